#include "tokenizer/tokenizer.h"

#include "tokenizer/byte_unicode.h"
#include "tokenizer/unicode_data.h"

#include <algorithm>
#include <cstdio>

namespace moe {

Result<Tokenizer> Tokenizer::create(VocabData vocab) {
    MOE_RETURN_IF_ERROR(validate_vocab(vocab));
    std::vector<std::string> regexes = vocab.pre_regexes;
    if (vocab.pre != "custom") {
        auto named = pretokenizer_regexes(vocab.pre);
        if (!named.ok()) return named.status().with_context(vocab.source);
        if (regexes.empty()) regexes = std::move(*named);
    }
    auto pre = PreTokenizer::create(regexes, vocab.dialect);
    if (!pre.ok()) return pre.status().with_context(vocab.source);
    Tokenizer tokenizer(std::move(vocab), std::move(*pre));
    return tokenizer;
}

Tokenizer::Tokenizer(VocabData vocab, PreTokenizer pre)
    : m_vocab(std::move(vocab)), m_pre(std::move(pre)), m_bpe(std::make_unique<BpeModel>(m_vocab)) {
    m_text_to_id.reserve(m_vocab.tokens.size());
    for (size_t i = 0; i < m_vocab.tokens.size(); ++i) m_text_to_id[m_vocab.tokens[i]] = static_cast<int32_t>(i);
    index_special_tokens();
}

namespace {
const char* const k_end_of_turn_texts[] = {
    "<|EOT|>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "[EOT]", "<|eom_id|>", "<｜end▁of▁sentence｜>", "<｜EOT｜>", "</s>"};
}  // namespace

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(m_eog.begin(), m_eog.end(), id); }

void Tokenizer::index_special_tokens() {
    if (m_vocab.eos_id >= 0) m_eog.push_back(m_vocab.eos_id);
    for (size_t i = 0; i < m_vocab.tokens.size(); ++i) {
        const TokenType type = m_vocab.token_types[i];
        if (m_vocab.tokens[i].empty()) continue;
        if (type == TokenType::Control)
            for (const char* text : k_end_of_turn_texts)
                if (m_vocab.tokens[i] == text) m_eog.push_back(static_cast<int32_t>(i));
        if (type == TokenType::Control || type == TokenType::Unknown || type == TokenType::UserDefined) {
            m_special.push_back({static_cast<int32_t>(i), type == TokenType::UserDefined});
        }
    }
    std::sort(m_eog.begin(), m_eog.end());
    m_eog.erase(std::unique(m_eog.begin(), m_eog.end()), m_eog.end());
    // Longest first, so the first hit at a position is the longest; equal texts: the lower id.
    std::stable_sort(m_special.begin(), m_special.end(), [&](const SpecialToken& a, const SpecialToken& b) {
        return text_of(a).size() > text_of(b).size();
    });
    for (size_t i = 0; i < m_special.size(); ++i) {
        m_special_by_byte[static_cast<uint8_t>(text_of(m_special[i])[0])].push_back(static_cast<int32_t>(i));
    }
}

TokenType Tokenizer::token_type(int32_t id) const {
    if (id < 0 || id >= n_vocab()) return TokenType::Undefined;
    return m_vocab.token_types[id];
}

bool Tokenizer::is_special(int32_t id) const {
    const TokenType type = token_type(id);
    return type == TokenType::Control || type == TokenType::Unknown;
}

int32_t Tokenizer::token_to_id(std::string_view text) const {
    auto it = m_text_to_id.find(text);
    return it == m_text_to_id.end() ? -1 : it->second;
}

std::pair<size_t, int32_t> Tokenizer::match_special(std::string_view text, size_t pos, bool parse_special) const {
    for (int32_t index : m_special_by_byte[static_cast<uint8_t>(text[pos])]) {
        const SpecialToken& s = m_special[index];
        if (!s.always && !parse_special) continue;
        const std::string& st = text_of(s);
        if (text.size() - pos >= st.size() && text.compare(pos, st.size(), st) == 0) {
            return {st.size(), index};
        }
    }
    return {0, -1};
}

void Tokenizer::encode_fragment(std::string_view fragment, std::vector<int32_t>& out, PieceCache& cache) const {
    if (fragment.empty()) return;
    std::string prefixed;
    const bool cacheable = !(m_vocab.add_prefix_space && fragment.front() != ' ');
    if (!cacheable) {
        prefixed.reserve(fragment.size() + 1);
        prefixed += ' ';
        prefixed += fragment;
        fragment = prefixed;
    }
    std::vector<Piece> pieces;
    m_pre.split(fragment, pieces);
    for (const Piece& piece : pieces) {
        const std::string_view bytes = fragment.substr(piece.begin, piece.end - piece.begin);
        if (!cacheable || bytes.size() > 64) {  // long pieces rarely repeat
            m_bpe->encode_piece(bytes, out);
            continue;
        }
        auto it = cache.ranges.find(bytes);
        if (it == cache.ranges.end()) {
            const uint32_t begin = static_cast<uint32_t>(cache.ids.size());
            m_bpe->encode_piece(bytes, cache.ids);
            it = cache.ranges.emplace(bytes, std::make_pair(begin, static_cast<uint32_t>(cache.ids.size()))).first;
        }
        out.insert(out.end(), cache.ids.begin() + it->second.first, cache.ids.begin() + it->second.second);
    }
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw_text, bool add_bos, bool parse_special) const {
    std::string sanitized;
    std::string_view text = raw_text;
    if (!utf8_is_valid(raw_text)) {
        sanitized = utf8_sanitize(raw_text);
        text = sanitized;
    }
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    PieceCache cache;
    size_t fragment_begin = 0;
    for (size_t pos = 0; pos < text.size();) {
        if (m_special_by_byte[static_cast<uint8_t>(text[pos])].empty()) {
            ++pos;
            continue;
        }
        const auto [length, index] = match_special(text, pos, parse_special);
        if (length == 0) {
            ++pos;
            continue;
        }
        encode_fragment(text.substr(fragment_begin, pos - fragment_begin), out, cache);
        out.push_back(m_special[index].id);
        pos += length;
        fragment_begin = pos;
    }
    encode_fragment(text.substr(fragment_begin), out, cache);
    const bool want_bos = add_bos && m_vocab.add_bos && m_vocab.bos_id >= 0;
    if (want_bos && (out.empty() || out.front() != m_vocab.bos_id)) out.insert(out.begin(), m_vocab.bos_id);
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    if (id < 0 || id >= n_vocab()) return std::string();
    const std::string& text = m_vocab.tokens[id];
    switch (m_vocab.token_types[id]) {
        case TokenType::Normal: {
            std::string bytes;
            symbols_to_bytes(text, bytes);
            return bytes;
        }
        case TokenType::Byte: {  // "<0xAB>" (SentencePiece style) or a byte-level symbol
            unsigned value = 0;
            if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>", &value) == 1) {
                return std::string(1, static_cast<char>(value));
            }
            std::string bytes;
            symbols_to_bytes(text, bytes);
            return bytes;
        }
        case TokenType::UserDefined: return text;
        case TokenType::Control:
        case TokenType::Unknown: return render_special ? text : std::string();
        case TokenType::Unused:
        case TokenType::Undefined: return std::string();
    }
    return std::string();
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    std::string out;
    for (int32_t id : ids) out += token_to_piece(id, render_special);
    return out;
}

// Length of a trailing, still incomplete UTF-8 sequence of `bytes` (0 when it ends on a boundary or with
// bytes that can never complete).
static size_t incomplete_tail(const std::string& bytes) {
    const size_t n = bytes.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const uint8_t b = static_cast<uint8_t>(bytes[n - back]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
        const size_t need = utf8_lead_length(b);
        return need > back ? back : 0;
    }
    return 0;
}

std::string StreamDecoder::push(int32_t id) {
    m_pending += m_tokenizer->token_to_piece(id, m_render_special);
    const size_t hold = incomplete_tail(m_pending);
    std::string ready = utf8_sanitize(std::string_view(m_pending).substr(0, m_pending.size() - hold));
    m_pending.erase(0, m_pending.size() - hold);
    return ready;
}

std::string StreamDecoder::flush() {
    std::string rest = utf8_sanitize(m_pending);
    m_pending.clear();
    return rest;
}

}  // namespace moe
