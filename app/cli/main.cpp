// moewb: the MoE Workbench command-line program (engine only, no Qt).
#include "commands.h"

#include <cstdio>
#include <cstring>

namespace {

struct Command {
    const char* name;
    int (*run)(int argc, char** argv);
    const char* summary;
};

constexpr Command k_commands[] = {
    {"info", moe::cli::cmd_info, "describe a model: architecture, parameters, experts, tensors, tokenizer, memory"},
    {"tokenize", moe::cli::cmd_tokenize, "print the token ids (and pieces) of a text with a model's tokenizer"},
    {"run", moe::cli::cmd_run, "generate text from a prompt (streamed), with timings"},
    {"chat", moe::cli::cmd_chat, "interactive multi-turn chat in the terminal"},
    {"logits", moe::cli::cmd_logits, "write the logits of a prompt as raw float32"},
    {"routing", moe::cli::cmd_routing, "print which experts every token is routed to, and per-layer load statistics"},
    {"bench", moe::cli::cmd_bench, "prompt and generation speed, GB/s and fraction of memory bandwidth"},
    {"make-fixture", moe::cli::cmd_make_fixture, "write a random-weight model (GGUF or HF folder) for tests and benchmarks"},
};

void print_usage(FILE* out) {
    std::fprintf(out, "usage: moewb COMMAND [options]\n\ncommands:\n");
    for (const Command& c : k_commands) std::fprintf(out, "  %-13s %s\n", c.name, c.summary);
    std::fprintf(out, "\n`moewb COMMAND --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (std::strcmp(argv[1], "--version") == 0) {
        std::printf("moewb %s\n", MOE_VERSION);
        return 0;
    }
    for (const Command& c : k_commands)
        if (std::strcmp(argv[1], c.name) == 0) return c.run(argc, argv);
    std::fprintf(stderr, "moewb: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
