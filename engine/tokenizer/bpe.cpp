#include "tokenizer/bpe.h"

#include "tokenizer/byte_unicode.h"

#include <queue>

namespace moe {

BpeModel::BpeModel(const VocabData& vocab) : m_unk_id(vocab.unk_id), m_ignore_merges(vocab.ignore_merges) {
    m_symbol_ids.reserve(vocab.tokens.size() * 2);
    m_symbol_token.assign(vocab.tokens.size(), -1);
    // Token ids are symbol ids. A text used by several tokens belongs to the last one (llama.cpp's map).
    for (size_t i = 0; i < vocab.tokens.size(); ++i) {
        m_symbol_ids[vocab.tokens[i]] = static_cast<int32_t>(i);
    }
    for (const auto& [text, id] : m_symbol_ids) m_symbol_token[id] = id;
    for (int b = 0; b < 256; ++b) m_byte_symbol[b] = symbol_id(byte_to_symbol_utf8(static_cast<uint8_t>(b)));
    m_merges.reserve(vocab.merges.size());
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
        const auto& [left, right] = vocab.merges[rank];
        if (left.empty() || right.empty()) continue;  // a malformed entry keeps its rank, never applies
        const int32_t l = symbol_id(left);
        const int32_t r = symbol_id(right);
        const int32_t result = symbol_id(left + right);
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
        m_merges.emplace(key, Merge{static_cast<uint32_t>(rank), result});  // the first (lowest) rank wins
    }
}

int32_t BpeModel::symbol_id(const std::string& text) {
    auto [it, inserted] = m_symbol_ids.emplace(text, static_cast<int32_t>(m_symbol_token.size()));
    if (inserted) m_symbol_token.push_back(-1);
    return it->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    auto it = m_merges.find(key);
    return it == m_merges.end() ? nullptr : &it->second;
}

void BpeModel::emit_symbol(const Symbol& symbol, std::string_view bytes, std::vector<int32_t>& out) const {
    const int32_t token = m_symbol_token[symbol.id];
    if (token >= 0) {
        out.push_back(token);
        return;
    }
    for (uint32_t i = symbol.begin; i < symbol.end; ++i) {  // not a token: one token per byte
        const int32_t byte_token = m_symbol_token[m_byte_symbol[static_cast<uint8_t>(bytes[i])]];
        if (byte_token >= 0) out.push_back(byte_token);
        else if (m_unk_id >= 0) out.push_back(m_unk_id);
    }
}

void BpeModel::merge_all(std::vector<Symbol>& symbols) const {
    struct Candidate {
        uint32_t rank;
        int32_t left;  // symbol index
        int32_t left_id;
        int32_t right_id;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    const auto push = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = symbols[left].next;
        if (right < 0) return;
        if (const Merge* m = find_merge(symbols[left].id, symbols[right].id)) {
            queue.push({m->rank, left, symbols[left].id, symbols[right].id});
        }
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push(i);
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& left = symbols[c.left];
        // Stale: the left symbol was absorbed or changed, or its right neighbour changed.
        if (left.id != c.left_id || left.next < 0 || symbols[left.next].id != c.right_id) continue;
        Symbol& right = symbols[left.next];
        left.id = find_merge(c.left_id, c.right_id)->result;
        left.end = right.end;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = c.left;
        right.id = -1;  // dead
        push(left.prev);
        push(c.left);
    }
}

void BpeModel::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
    if (bytes.empty()) return;
    if (m_ignore_merges) {
        std::string spelled;
        bytes_to_symbols(bytes, spelled);
        auto it = m_symbol_ids.find(spelled);
        if (it != m_symbol_ids.end() && m_symbol_token[it->second] >= 0) {
            out.push_back(m_symbol_token[it->second]);
            return;
        }
    }
    std::vector<Symbol> symbols(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) {
        symbols[i] = {m_byte_symbol[static_cast<uint8_t>(bytes[i])], static_cast<int32_t>(i) - 1,
                      i + 1 < bytes.size() ? static_cast<int32_t>(i + 1) : -1, static_cast<uint32_t>(i),
                      static_cast<uint32_t>(i + 1)};
    }
    merge_all(symbols);
    for (int32_t i = 0; i >= 0; i = symbols[i].next) emit_symbol(symbols[i], bytes, out);
}

}  // namespace moe
