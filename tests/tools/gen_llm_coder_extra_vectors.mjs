// Generates tests/data/tokenizer/deepseek-{llm,coder}-extra.{inp,out}: reference ids from llama.cpp itself
// (the prebuilt library of node-llama-cpp, which loads the vocab-only GGUFs), add_special = false,
// parse_special = false. Run in a scratch folder:
//   npm install --ignore-scripts node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1
//   node gen_llm_coder_extra_vectors.mjs <vocab dir with ggml-vocab-deepseek-*.gguf> <repo>/tests/data/tokenizer
// With a third argument "--print" it only prints the strings (one JSON string a line) and ids.
// node-llama-cpp 3.22.1 bundles llama.cpp as of 2026-09 (its llama/gitRelease.bundle holds the source): its
// unicode-data.cpp is Unicode 15.1, and its loader re-types <｜fim▁*｜> tokens as control by their text.
import fs from "fs";
import path from "path";

const cp = (n) => String.fromCodePoint(n);
const range = (a, b) => { let s = ""; for (let c = a; c <= b; ++c) s += cp(c); return s; };

// Hand-picked strings: every class boundary of the deepseek-llm / deepseek-coder regexes, white space that
// llama.cpp rewrites to U+000B, digits of many scripts, the user-defined single-character tokens.
const base = [
  // ASCII words, apostrophes, case
  "Hello", "hello world", "HELLO WORLD", "Hello,world", "Hello ,world", "Hello , world", "  Hello", "Hello  ",
  "It's", "it's", "IT'S", "I'm", "you're", "we've", "they'll", "he'd", "don't", "can't", "y'all", "'s", "''",
  "'", "''quoted''", "\"quoted\"", "rock'n'roll", "O'Neil's",
  // digits (\p{N}+ in deepseek-llm, \p{N} in deepseek-coder)
  "12", "123", "1234", "1234567", "3.14159", "1,000,000", "-42", "+7", "1e10", "0x1F", "v1.2.3", "2024-01-01",
  "12:30:45", "$100", "€50", "¥1000", "100%", "a1b2c3", "abc123def", " 42", "  42", "x 1 2 3",
  "١٢٣٤٥", "٣.١٤", "۱۲۳", "߀߁", "०१२३", "১২৩", "੧੨", "௧௨௩", "๑๒๓", "໑໒", "༡༢", "၁၂", "០១២", "᠑᠒", "１２３", "𝟏𝟐𝟑",
  "ⅠⅡⅢⅣ", "ⅰⅱⅲ", "½ ¼ ¾", "²³¹", "⁴⁵", "₁₂", "①②③", "⑴⑵", "⓵⓶", "❶❷", "〇一二", "〡〢〣", "𐄇𐄈", "四五六", "5½", "a²", "x₁",
  // white space: ASCII, trailing runs (\s+$), and non-ASCII white space (U+000B in llama.cpp)
  "\t", "\t\t", " \t ", "\n", "\r\n", "\r", "\n\n\n", " \n ", "a\nb", "a\r\nb", "a\n\nb", "a \n b", "a\t\nb",
  "\v", "\f", "a\vb", "a\fb", "a\v", "a \v", "word\n", "word \n", "word  \n\n", "\n word", " \t\n\r", "end   ",
  "   ", "         x", "x\t", "x \t ", "x\t\t\ty", "  \t  x  \t  ", "a.  ", "a.\t", "!  ", "  !", " ! ", "1  ", "  1",
  "你好  ", "한국  ", "a\u001Cb", "a \u001F", "\u001E", "a\u0085b", "a \u0085", "\u0085x",
  "x\u00A0y", "\u00A0", "\u00A0\u00A0a", "a\u00A0", "a \u00A0", "\u00A0!", "\u00A0,", "x\u3000y", "\u3000",
  "日本\u3000語", "中\u3000文", "\u3000。", "。\u3000", "a\u3000!", "!\u3000!", "\u3000\u3001\u3002", "a\u3000",
  "a\u2003b", "\u2009thin", "a\u2028b", "a\u2029b", "a\u202Fb", "a\u205Fb", "a\u1680b", "a\u180Eb", "\u2000\u2001x",
  "a\u2003!", "a \u2003 b", "   \n   ", "a\u200Bb", "a\uFEFFb", "\uFEFF", " \uFEFFx",
  // the deepseek-llm letter class and what lies just outside it
  "µ", "ÀÖ×Øöø÷", "ƺƻƼ", "ǃǄ", "ʓʔʕ", "ʯʰ", "ͰͳʹͶͷ", "ͺͻͽ;Ϳ", "Ά·ΈΊΌΎΡΣ", "ϵ϶Ϸ", "ҁ҂Ҋ", "ԯ԰Ա", "Ֆ՗", "ՙ", "ա",
  "ႠჅ჆", "Ⴧ", "ᎠᏵ᏶ᏸᏽ", "ᲐᲺ᲻ᲽᲿ", "ᴀᴫᴬ", "ᵫᵷᵸᵹ", "ᶚᶛ", "ḀἕἘ", "Ὗώᾀ", "ι῀", "ℂ℃ℇ", "ℊℓ℔ℕ", "ΩℨKÅℭ℮ℯ", "ℹ℺ℼℿ",
  "ⅅⅉⅎ", "Ↄↄ", "ⰀⱻⱾⳤ", "Ꙁꙭꙮ", "Ꚁꚛꚜ", "Ꜣꝯꝰꝱ", "ꞇ꞊Ꞌꞎ", "ꭰꮿ", "ﬀﬆﬓﬗ", "ＡＺａｚ", "𐐀𐑏", "𐒰𐓓𐓘𐓻",
  "𐲀𐲲𐳀𐳲", "𑢠𑣟", "𞤀𞥃", "Ѐ", "Привет мир", "Ёжик", "Ελληνικά", "ΑΒΓ αβγ", "Հայերեն", "ქართული", "ᲥᲐᲠᲗᲣᲚᲘ",
  "ǅǆ", "ß", "ẞ", "ı", "İstanbul", "ﬁ ligature", "café", "naïve", "fiancée", "Œuvre", "Ærøskøbing",
  // user-defined single-character tokens (ø ö ú ÿ õ ÷ û ý À ù Á þ ü) and special-token-like text
  "ø", "ö", "schön", "Übung", "über", "Ölçü", "ÿes", "õ", "÷2", "ù", "À la", "Á", "þorn", "ü", "ý",
  "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "a<｜fim▁hole｜>b", "<|User|>hi<|Assistant|>", "<|EOT|>",
  "[PAD100015]", "[PAD32022]", "<pad>", "<s>", "</s>",
  // combining marks
  "e\u0301", "cafe\u0301", "n\u0303", "a\u0300\u0301\u0302", "\u0301", " \u0301", "Z\u0351\u036b\u0343",
  "\u0915\u093F", "\u0E01\u0E34", "a\u20DD", "\u05D0\u05B7", "\u0627\u064E",
  // CJK and the [一-龥ࠀ-一가-퟿] class edges
  "你好", "你好世界", "中文，标点。", "漢字かなカナ", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "こんにちは世界", "日本語のテキスト",
  "東京タワー", "ー", "・", "〜", "「引用」", "『二重』", "【括弧】", "一", "龥", "龦", "鿿", "一龥龦", "鿐鿕", "㐀㐁",
  "丂丄", "\u07FF\u0800", "\u0800", "ࠀࠁ", "ऄअ", "ꀀꀁ", "\u4DFF一", "가", "힣", "\uD7B0\uD7FF", "\uD7FF가",
  "ힰퟻ", "豈更", "\uF900", "ﬀ", "\uE000", "\uE000\uE001", "𠀀", "𠀀𠀁", "𪜀", "한국어", "안녕하세요 세계",
  "한국어 텍스트입니다.", "ᄀᄁ", "ㄱㄴㄷ", "ㅏㅑ", "ᅡᅢ", "ꥠ", "ힰ", "ᄀ가", "中文English", "English中文", "中文123",
  "123中文", "中 文", " 中文", "中文 ", "中文\n", "中文。。", "中文!!", "中文abc!",
  // punctuation: the deepseek-llm class [!-/:-~！-／：-～‘-‟　-。], and outside it
  "...", "!!!", "???", "?!", "!?!?", "(", ")", "[]", "{}", "<>", "<<>>", "()()", "([{}])", "#", "##", "###",
  "@user", "#hashtag", "&&", "||", "a+b=c", "x^2", "~/.bashrc", "C:\\Users\\x", "_", "__", "a_b", "`", "``",
  "！", "！？", "（括号）", "：；", "～", "｟｠", "｡｢｣", "、", "，", "‘curly’", "“double”", "„low“", "‛‟", "‹›",
  "«guillemets»", "—–-", "…", "‥", "†‡", "•‣", "‰‱", "′″", "‼⁇", "⁈⁉", "¡¿", "§¶", "·", "‧", "〃", "〈〉",
  "《》", "〔〕", "〖〗", "〘〙", "〚〛", "〝〞〟", "〰", "゠", "﹏", "︰", "﹐﹑", "·", "״", "׳", "؟", "،", "।", "॥",
  "฿", "¢£¤¥", "©®™", "°C", "±×÷", "≤≥≠", "→←↑↓", "∑∫√∞", "⌘⌥", "♠♣♥♦", "✓✗", "★☆", "☃", "♪♫", "€", "₹",
  " ‘a’", "a‘b", "a “b”", "x—y", "x - y", "x–y", "a…b", "a,b", "a, b", "a ,b", "a!b", "a !b", " !a",
  // code
  "def f(x):\n    return x", "int main() { return 0; }", "for (int i = 0; i < n; ++i) {\n\ti++;\n}",
  "if x == 1:\n\tpass", "<div class=\"a\">text</div>", "SELECT * FROM t WHERE id = 1;", "$ ls -la | grep x",
  "```python\nprint('hi')\n```", "// comment", "/* block */", "#include <stdio.h>", "x->y", "a::b", "a=>b",
  "__init__", "snake_case_name", "camelCaseName", "kebab-case", "ALL_CAPS", "a.b.c", "    indented",
  "\t\tindented", "line1\nline2\nline3", "x = [1, 2, 3]\n", "fn main() {\r\n    println!(\"hi\");\r\n}\r\n",
  "std::vector<int> v{1,2};", "0.5f * x[i] + y[i];", "  \n\t\n  ", "$$x^2$$", "\\frac{a}{b}",
  // emoji and symbols
  "😀", "😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸", "a😀b", " 😀 ", "🤖 robot", "🫨", "🐦‍🔥", "#️⃣", "1️⃣",
  // other scripts
  "שלום", "مرحبا بالعالم", "नमस्ते", "ภาษาไทย", "ᚠᚢᚦ", "ꦗꦮ", "ᐊᐃ", "ⴰⵣⵓⵍ", "ܫܠܡܐ", "ދިވެހި", "ᓀᐦᐃᔭᐍᐏᐣ", "𓀀𓀁",
  "ʻokina", "Ǆemal", "ǈ", "ᾈ", "ﬅ", "Ⅲrd", "x²+y²", "A\u200Bzero width", "a\u200Db", "a\u200Cb", "a\u00ADb",
  "\u2060", "x\u034Fy",
  // mixed
  "The quick brown fox jumps over the lazy dog.", "Mr. Smith's car costs $3,450.99!", "e.g. i.e. etc.",
  "Hello, 世界! 你好，world。 123 ４５６", "Ελληνικά και English 和中文 한국어 123", "https://例子.测试/路径?q=值",
  "naïve café — “quoted” ‘text’… ½", "  multiple   spaces\tand\ttabs  \n\n  ", "   \u3000  \u00A0 end",
];

// Deterministic random mixes of the pieces above (seeded LCG).
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const atoms = ["a", "Z", "é", "ø", "ñ", "Ω", "я", "ա", "ა", "中", "龦", "가", "か", "ア", "1", "٣", "½", "Ⅻ", " ", "  ",
  "\t", "\n", "\r\n", "\u00A0", "\u3000", "\u2003", "\u0085", "!", ".", ",", "'", "\"", "‘", "”", "。", "、", "！",
  "—", "…", "$", "+", "<", "|", "^", "`", "~", "€", "😀", "\u0301", "\u200B", "\v", "ab", "Hello", "123"];
const mixes = [];
for (let i = 0; i < 60; ++i) {
  let s = "";
  const n = 2 + rnd(10);
  for (let k = 0; k < n; ++k) s += atoms[rnd(atoms.length)];
  mixes.push(s);
}

const seen = new Set();
const cases = [...base, ...mixes].filter((s) => (seen.has(s) ? false : (seen.add(s), true)));

const { getLlama } = await import("node-llama-cpp");
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
for (const name of ["llm", "coder"]) {
  const model = await llama.loadModel({
    modelPath: path.join(process.argv[2], `ggml-vocab-deepseek-${name}.gguf`), vocabOnly: true });
  const ids = cases.map((s) => Array.from(model.tokenize(s, false)));
  if (process.argv[4] === "--print") {
    cases.forEach((s, i) => console.log(name, JSON.stringify(s), ids[i].join(" ")));
    continue;
  }
  const out = path.join(process.argv[3], `deepseek-${name}-extra`);
  fs.writeFileSync(out + ".inp", cases.map((s) => s + "\n__ggml_vocab_test__\n").join(""));
  fs.writeFileSync(out + ".out", ids.map((v) => v.map((i) => " " + i).join("")).join("\n") + "\n");
  console.log(name, cases.length, "cases");
}
