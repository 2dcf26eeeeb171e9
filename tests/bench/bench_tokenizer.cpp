// Tokenizer encoding speed: MB/s of English text (about 1 MB, generated deterministically), one thread, for
// each vocab found (the 514-token fixture vocab in tests/data, DeepSeek LLM/Coder GGUFs and the V3
// tokenizer.json from the shared fixtures).
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

std::string english_text(size_t n_bytes) {
    static const char* words[] = {
        "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
        "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
        "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when",
        "will", "would", "who", "so", "no", "model", "experts", "routing", "attention", "tokenizer", "language",
        "mixture", "training", "inference", "memory", "bandwidth", "throughput", "latency", "parameters",
        "DeepSeek", "Transformer", "GPU", "layer", "weights", "quantization", "sequence", "context", "window",
        "don't", "it's", "we're", "they've", "1024", "2025", "3.5", "e.g.", "(see", "below)", "\"quoted\"",
    };
    std::mt19937 rng(42);
    std::string text;
    text.reserve(n_bytes + 64);
    size_t sentence = 0;
    while (text.size() < n_bytes) {
        const size_t n_words = 6 + rng() % 18;
        for (size_t i = 0; i < n_words; ++i) {
            std::string w = words[rng() % std::size(words)];
            if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
            text += w;
            text += (i + 1 == n_words) ? (rng() % 5 == 0 ? "?" : ".") : (rng() % 9 == 0 ? ", " : " ");
        }
        text += (++sentence % 6 == 0) ? "\n\n" : " ";
    }
    return text;
}

void bench(const std::string& name, const moe::Tokenizer& tok, const std::string& text) {
    std::vector<int32_t> ids = tok.encode(text, false, false);  // warm-up
    const int n_runs = 3;
    double best_s = 1e30;
    for (int r = 0; r < n_runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        ids = tok.encode(text, false, false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best_s = std::min(best_s, s);
    }
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("%-16s %8zu tokens  %5.2f bytes/token  %7.2f MB/s  %9.0f tokens/s  (best of %d, 1 thread)\n",
                name.c_str(), ids.size(), static_cast<double>(text.size()) / static_cast<double>(ids.size()),
                mb / best_s, static_cast<double>(ids.size()) / best_s, n_runs);
}

void bench_gguf(const std::string& name, const std::string& path, const std::string& text) {
    if (!std::filesystem::exists(path)) {
        std::printf("%-16s (skipped: %s not found)\n", name.c_str(), path.c_str());
        return;
    }
    auto file = moe::GgufFile::open(path);
    if (!file.ok()) return (void)std::printf("%s: %s\n", name.c_str(), file.error().c_str());
    auto vocab = moe::vocab_from_gguf(*file);
    if (!vocab.ok()) return (void)std::printf("%s: %s\n", name.c_str(), vocab.error().c_str());
    auto tok = moe::Tokenizer::create(std::move(*vocab));
    if (!tok.ok()) return (void)std::printf("%s: %s\n", name.c_str(), tok.error().c_str());
    bench(name, *tok, text);
}

}  // namespace

int main() {
    const std::string text = english_text(1'000'000);
    std::printf("English text: %zu bytes\n", text.size());
    const std::string shared = MOE_SHARED_FIXTURES;
    bench_gguf("fx-bpe514", std::string(MOE_TEST_DATA_DIR) + "/models/fx-ds1-q8_0.gguf", text);
    bench_gguf("deepseek-llm", shared + "/vocab/ggml-vocab-deepseek-llm.gguf", text);
    bench_gguf("deepseek-coder", shared + "/vocab/ggml-vocab-deepseek-coder.gguf", text);
    const std::string v3 = shared + "/vocab/deepseek-v3/tokenizer.json";
    if (std::filesystem::exists(v3)) {
        auto vocab = moe::vocab_from_hf(v3, "");
        if (!vocab.ok()) return std::printf("deepseek-v3: %s\n", vocab.error().c_str()), 1;
        auto tok = moe::Tokenizer::create(std::move(*vocab));
        if (!tok.ok()) return std::printf("deepseek-v3: %s\n", tok.error().c_str()), 1;
        bench("deepseek-v3", *tok, text);
    }
    return 0;
}
