// Runs a fuzz target over every file of a regression corpus folder, as an ordinary test: each input must
// be handled (accepted or refused with a message) without a crash, a hang or a sanitizer report.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
        return 2;
    }
    size_t n = 0;
    for (int a = 1; a < argc; ++a) {
        std::vector<std::filesystem::path> inputs;
        if (std::filesystem::is_directory(argv[a])) {
            for (const auto& e : std::filesystem::recursive_directory_iterator(argv[a]))
                if (e.is_regular_file()) inputs.push_back(e.path());
        } else {
            inputs.emplace_back(argv[a]);
        }
        for (const auto& p : inputs) {
            std::ifstream f(p, std::ios::binary);
            std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++n;
        }
    }
    if (n == 0) {
        std::fprintf(stderr, "no corpus files found\n");
        return 1;
    }
    std::printf("%zu corpus inputs handled without a crash\n", n);
    return 0;
}
