#!/usr/bin/env python3
"""Regenerates jinja_cases.json: small templates rendered by jinja2 the way HF transformers renders chat
templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, HF tojson and
raise_exception). tests/unit/test_jinja_language.cpp renders each with our engine and compares.
Cases listed in ERRORS must fail in jinja2 and are expected to fail in ours too.
Usage: python3 make_jinja_cases.py > jinja_cases.json   (needs jinja2 >= 3.1)"""
import json
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def render(src, ctx):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    full = dict(messages=[], tools=None, documents=None, add_generation_prompt=False, bos_token="", eos_token="")
    full.update(ctx)
    return env.from_string(src).render(**full)


CASES = []


def t(src, **ctx):
    CASES.append((src, ctx))



# (template, context-json) pairs for differential checks against jinja2
msgs = [{"role":"system","content":"Be brief."},{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"Ünïcödé ✓ test"}]
t("{{ 'a' ~ 1 ~ none ~ true }}")
t("{{ 1 + 2 * 3 - 4 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 7.5 // 2 }}|{{ 10 / 4 }}|{{ 3 * 'ab' }}|{{ [1] * 3 }}")
t("{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-7 }}|{{ 100.0 }}|{{ 1/3 }}|{{ 2.0 ** 60 }}|{{ -0.0 }}|{{ 123456789012345678.0 }}")
t("{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }}|{{ (1,) }}|{{ (1, 2) }}|{{ () }}|{{ {'a': \"it's\"} }}|{{ ['x\\ny'] }}")
t("{% if 1 < 2 < 3 %}chain{% endif %}{% if 1 < 3 > 2 %}x{% endif %}{% if not 1 == 2 %}y{% endif %}")
t("{{ 'abc' in 'xabcx' }}{{ 2 in [1,2] }}{{ 'k' in {'k':1} }}{{ 3 not in [1] }}{{ 'z' not in 'abc' }}")
t("{{ none or 'x' }}|{{ 0 and 1 }}|{{ '' or [] }}|{{ 1 and 'y' }}|{{ undefined_var or 'dflt' }}")
t("{{ 'yes' if true else 'no' }}|{{ 'yes' if false }}|{{ 1 if 0 else 2 if 0 else 3 }}")
t("{% set x = 5 %}{% set a, b = 1, 2 %}{{ x }}{{ a }}{{ b }}{% set l = [1,2,3] %}{{ l[0] }}{{ l[-1] }}{{ l[1:] }}{{ l[::-1] }}{{ l[:-1] }}{{ l[5:] }}{{ l[-2:] }}{{ 'hello'[1:3] }}{{ 'hello'[::-1] }}{{ 'héllo'[1] }}{{ l[::2] }}{{ l[2:0:-1] }}")
t("{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}:{{ m.role }};{% endfor %}", messages=msgs)
t("{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ m['role'][0] }}{{ loop.length }} {% else %}none{% endfor %}", messages=msgs)
t("{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in undefined_thing %}a{% else %}undef-empty{% endfor %}")
t("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for k in {'z': 1, 'y': 2} %}{{ k }}{% endfor %}{% for k, v in {'q': 3}|items %}{{ k }}{{ v }}{% endfor %}")
t("{% set ns = namespace(n=0, s='') %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}")
t("{% set x = 1 %}{% for i in range(3) %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}")
t("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}")
t("{{ range(3)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}{{ range(0)|list }}")
t("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} {{ greet('Al', greeting='Hi') }} {{ greet('X', 'Yo') }}")
t("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside{% endcall %}")
t("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}")
t("{% raw %}{{ not rendered }}{% endraw %}")
t("{# comment #}a{#- trimmed -#}  b")
t("  {% if true %}\n    x\n  {% endif %}\n  y\n{{ 'z' }}\n")
t("a  {%- if true -%}  b  {%- endif -%}  c\n{{- ' d ' -}}\n e")
t("<{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}>")
t("{% if true %}\r\nline\r\n{% endif %}\r\n")
t("  {%+ if true %}keep{% endif %}\n{% if true +%}\nkeep-newline{% endif %}")
t("{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello'|upper }}{{ 'Hello'|lower }}|{{ 'hello world'|capitalize }}|{{ 'hello wORLD-foo(bar'|title }}|{{ 'aaa'|replace('a','b',2) }}|{{ 'ab'|replace('','-') }}")
t("{{ [1,2,3]|join(',') }}|{{ [1,2]|first }}{{ [1,2]|last }}|{{ 'abc'|first }}|{{ undefined_v|default('d') }}|{{ none|default('d') }}|{{ ''|default('e', true) }}|{{ ''|d('f', boolean=true) }}|{{ 'abc'|list }}|{{ 12|string }}|{{ '42'|int + 1 }}|{{ '3.5'|float }}|{{ 'x'|int }}|{{ 3.9|int }}|{{ -3|abs }}|{{ '0x1f'|int(0, 16) }}")
t("{{ {'b': 1, 'a': [1, 'é', none, true, 2.5]}|tojson }}|{{ {'a': {'b': [1, 2]}, 'c': 'x\"y\\n'}|tojson(indent=2) }}|{{ [] |tojson }}|{{ {}|tojson(indent=2) }}|{{ 'é\\u0001'|tojson }}|{{ {'z':1,'a':2}|tojson(sort_keys=true) }}")
t("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('|') }}|{{ messages|rejectattr('role', 'eq', 'user')|list|length }}|{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3,4]|reject('even')|list }}|{{ [0,1,'',2]|select|list }}|{{ ['a','b']|map('upper')|list }}", messages=msgs)
t("{{ ['b','A','a','B']|unique|list }}|{{ ['b','A','a','c']|sort }}|{{ [3,1,2]|sort(reverse=true) }}|{{ {'b':1,'a':2}|dictsort }}|{{ [1,2,3]|reverse|list }}|{{ 'abc'|reverse }}|{{ [{'n':2},{'n':1}]|sort(attribute='n') }}|{{ ['A','a','b']|unique(case_sensitive=true)|list }}")
t("{{ '<a href=\"x\">&'|escape }}|{{ '<b>'|e }}|{{ '<b>'|safe }}|{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(width='> ', blank=true) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 3.14159|round(2) }}|{{ 2.1|round(method='ceil') }}|{{ 'one two  three'|wordcount }}")
t("{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is number }}{{ 1.0 is number }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ true is boolean }}{{ true is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 1 is equalto 1 }}{{ 1 is not none }}{{ 1 is integer }}{{ 1.0 is float }}{{ 'ab' is lower }}{{ 'AB' is upper }}", x=1)
t("{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x','c')) }}|{{ '  s  '.strip() }}|{{ 'xxsxx'.lstrip('x') }}|{{ 'xxsxx'.rstrip('x') }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ 'aXa'.replace('a','b') }}|{{ 'hello'.find('l') }}{{ 'hello'.find('z') }}|{{ 'hello world'.title() }}|{{ 'x{}y{}'.format(1, 2) }}|{{ ','.join(['a','b']) }}|{{ 'hello'.count('l') }}")
t("{{ d.items()|list }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.get('a') }}|{{ d.get('z') }}|{{ d.get('z', 5) }}|{{ d.a }}|{{ d['b'] }}|{{ d.zz }}|{{ d.zz is defined }}", d={"a":1,"b":[1,2]})
t("{{ message.content.split('</think>')[-1].strip() }}", message={"content":"<think>x</think>\n\nAnswer"})
t("{{ dict(a=1, b=2) }}|{{ namespace(a=1).a }}")
t("{{ messages[0]['content'] }}{{ messages[0].content }}{{ messages|length }}{{ messages[-1]['role'] }}", messages=msgs)
t("{% set s %}captured {{ 1 + 1 }}{% endset %}[{{ s }}]{% filter upper %}shout {{ 'it' }}{% endfilter %}")
t("{{ 'a' 'b' \"c\" }}|{{ '\\x41\\u00e9\\t|\\'\"' }}|{{ \"it's\" }}|{{ 1_000 }}|{{ 'a\\qb' }}")
t("{{ [1,2] + [3] }}|{{ 'a' + 'b' }}|{{ -(3) }}|{{ +4 }}|{{ not none }}|{{ -1|abs }}|{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' < 'b' }}|{{ [1,2] < [1,3] }}")
t("{{ foo }}|{{ foo|length }}|{{ foo ~ 'x' }}|{{ foo == foo }}|{{ foo is none }}|{% if foo %}t{% else %}f{% endif %}|{{ foo|default('D') }}|{{ foo|string }}|{{ foo|list }}")
t("{{ tools }}|{{ tools is none }}|{{ tools is defined }}|{{ documents }}")
t("{{ [3,1,2]|max }}{{ [3,1,2]|min }}{{ [1,2,3]|sum }}{{ ['a','B']|max }}|{{ [{'a':1},{'a':5}]|sum(attribute='a') }}|{{ 'x'|center(5) }}|")
t("{{ ns }}|{{ (1, 'a') }}|{{ [1.0, -2.5e-10] }}|{{ {'a': none} }}", ns=None)
t("{{ loop }}{% for x in [[1,2],[3]] %}{% for y in x %}{{ loop.index }}{{ y }}{% endfor %};{% endfor %}")
t("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a','b') }} {% endfor %}")
t("{% if x is defined and x.y is defined %}a{% else %}b{% endif %}{% set ns = namespace(items=[]) %}{% set ns.items = ns.items + [1] %}{{ ns.items }}")
t("{%- for message in messages %}\n{%- if message['role'] == 'user' %}\n{{- '<|user|>\\n' + message['content'] + eos_token }}\n{%- elif message['role'] == 'system' %}\n{{- '<|system|>\\n' + message['content'] + eos_token }}\n{%- endif %}\n{%- if loop.last and add_generation_prompt %}\n{{- '<|assistant|>' }}\n{%- endif %}\n{%- endfor %}", messages=msgs, eos_token="</s>", add_generation_prompt=True)
t("{{ 'abc'[5] }}|{{ [1][3] }}|{{ {'a':1}['b'] }}|{{ (messages|first).role }}", messages=msgs)
t("{{ 10 ** 3 }}|{{ 2 * 3.0 }}|{{ 5 % 3 }}|{{ 5.5 % 2 }}|{{ -5 % 3.0 }}|{{ 7 / 7 }}|{{ true + true }}|{{ 9 // 2.0 }}")
t("{{ {'a': 1}|items|list }}|{{ 'ab'|length }}{{ 'ü'|length }}{{ {'a':1}|count }}|{{ [1,2]|join }}|{{ 'a-b'|replace('-', '+') }}")
t("{{ 'Hello {name}'.format(name='W') }}|{{ '  a\\n'.rstrip() }}|{{ 'a b'.split(' ') }}|{{ 'abc'.rfind('c') }}|{{ '12'.isdigit() }}")
t("{% set x %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}{{ x|length }}")
t("a\n{% for i in [1] %}\n{{ i }}\n{% endfor %}\nb\n")
t("{% if true %}\n  {{ 'x' }}\n{% endif %}")
t("{{- 'a' }}\n\n  {{ 'b' -}}\n\n  {{ 'c' }}")
t("{% for i in range(2) %}{% set outer = loop %}{% for j in range(2) %}{{ outer.index }}{{ loop.index }} {% endfor %}{% endfor %}")
t("{{ messages|map(attribute='role')|unique|join(',') }}|{{ messages|selectattr('role','in',['user','system'])|list|length }}", messages=msgs)
t("{{ [1,'a']|tojson }}|{{ 1.0|tojson }}|{{ none|tojson }}|{{ true|tojson }}|{{ 'x'|tojson }}|{{ [[]]|tojson(indent=1) }}|{{ {'a':[1,{}]}|tojson(indent=4) }}")
t("{{ x.y }}", x={"y": {"z": 1}})
t("{{ 1 if x is string else 2 }}{{ x is mapping }}", x={"a": 1})
t("{% set content = 'a</think>b</think>c' %}{{ content.split('</think>', 1)[1] }}|{{ content.split('</think>')[-1] }}|{{ '</think>' in content }}")
t("{{ foo.bar }}")
t("{{ d.zz.yy }}", d={"a":1})
t("{{ 1 + 'a' }}")
t("{{ 'a' + none }}")
t("{{ raise_exception('Conversation roles must alternate') }}")
t("{{ foo() }}")
t("{{ [].append(1) }}")
t("{% set x = [1] %}{{ x.append(2) }}")
t("{{ range(200000)|length }}")
t("{{ 1 / 0 }}")
t("{% for a, b in [1, 2] %}{% endfor %}")
t("{{ 'a' < 1 }}")
t("{{ foo + 1 }}")
t("{{ foo[0] }}")
t("{{ none.x }}")
t("{{ none['x'] }}")
t("{{ 5.x }}")
t("{{ 'abc'.nope }}")
t("{{ 'abc'.nope() }}")
t("{% set ns.x = 1 %}")
t("{{ x.__class__ }}", x="s")
t("  {# c #}\nA\n  {%- raw -%}  r {{ x }}  {%- endraw -%}  \nB")
t("{% raw %}\n  raw\n  {% endraw %}\nC")
t("x\n  {# comment #}\ny")
t("{{ 'a' }} {# c #} {{ 'b' }}")
t("line1\n    {% if true %}\n    in\n    {% endif %}\nline2")
t("\t{% for i in [1,2] %}\t{{ i }}\n\t{% endfor %}")
t("{%- if true %}  {% endif -%}")
t("{{ 'x' }}\n")
t("{{ 'x' }}\n\n")
t("{% if true %}a{% elif false %}b{% else %}c{% endif %}{% if false %}a{% elif true %}b{% else %}c{% endif %}{% if false %}a{% elif false %}b{% else %}c{% endif %}")
t("{{ messages[0]['tool_calls'] is defined }}{{ messages[0]['tool_calls'] }}{{ messages[0].tool_calls is none }}", messages=[{"role":"a","content":None}])
t("{{ messages[0].content is none }}{{ messages[0].content }}", messages=[{"role":"a","content":None}])
t("{{ x|tojson }}", x={"name": "f", "parameters": {"type":"object","properties":{"q":{"type":"string","description":"日本"}}, "required":["q"]}})
t("{{ x|tojson(indent=2) }}", x=[{"a": 1.5, "b": [True, None]}])
t("{{ 1e300 * 1e300 }}|{{ (1e300 * 1e300)|tojson }}|{{ -1e300*1e300 }}")
t("{{ 12345678901234567 }}|{{ 9007199254740993.0 }}|{{ 0.000123 }}|{{ 0.0001 }}|{{ 1e-5 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 123.456e5 }}")
t("{{ 'abc' * 0 }}{{ 'ab' * -1 }}|{{ [1,2] * 2 }}|{{ 2 * [0] }}")
t("{{ 'a\\x00b'|length }}")
t("{% for c in 'héllo' %}{{ c }}.{% endfor %}")
t("{{ 'ÀB'|lower }}|{{ 'àb'|upper }}")
t("{{ x|string }}|{{ x }}", x={"a": "b'c", "d": 'e"f', "g": "h'i\"j"})
t("{{ x }}", x=[1.5, "\u00e9", "\t"])
t("{{ [1,2,3]|batch(2)|list }}")
t("{%- set ns = namespace(found=false) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{{ ns.found }}", messages=[{"role":"system","content":"x"}])
t("{{ 1 if true }}{{ (1, 2)[0] }}{{ [1,2,3][1:2] }}{{ 'x'.join('abc') }}")
t("{{ 'a' ~ x }}", x=[1,2])
t("{{ message['content'] | trim }}", message={"content":"  \n x \t\n"})
t("{% macro f(x) %}{{ x }}{% endmacro %}{{ f() }}|{{ f(x=3) }}")
t("{% if x %}{% endif %}{% for a in b %}{% endfor %}{{ c | default('') }}ok")
t("{{ 'abc'|replace('b', 'x'*3) }}")
t("{{ 3|float }}{{ 'nan'|float }}{{ 'inf'|float }}{{ '1e3'|float }}{{ ' 7 '|int }}{{ '1_0'|int }}{{ '3.7'|int }}")
t("{{ 10|round }}{{ 10|round(1) }}{{ -2.5|round }}{{ 1.25|round(1) }}")
t("{{ {'a':1} == {'a':1} }}{{ [1] == (1,) }}{{ none == none }}{{ x == y }}")
t("{{ [1,2,3]|first|string + 'x' }}")
t("{{ x[0] }}|{{ x[1:] }}|{{ x[-2:] }}", x=[])
t("{{ messages|selectattr('content')|list|length }}", messages=[{"content":""},{"content":"a"},{"x":1}])
t("{{ 'x'|indent(first=true) }}|{{ ''|indent }}|{{ 'a\\n'|indent }}")
t("{{ -2 ** 2 }}{{ (-2) ** 2 }}{{ 2 ** 3 ** 2 }}{{ not true == false }}{{ -x|abs }}", x=3)
t("{{ 'a' if none else 'b' }}{{ x if x is defined else 'u' }}")
t("{{ 1 is sameas 1 }}{{ true is sameas 1 }}{{ none is sameas none }}")
t("{{ 'ab' | replace('a', 1) }}")


def main():
    out = []
    for src, ctx in CASES:
        case = {"template": src, "context": ctx}
        try:
            case["expected"] = render(src, ctx)
        except Exception as e:  # noqa: BLE001 - any jinja2 failure is an expected failure
            case["error"] = str(e)
        out.append(case)
    json.dump({"producer": "jinja2 " + jinja2.__version__ + " (make_jinja_cases.py)", "cases": out},
              sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
