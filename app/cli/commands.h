// moewb subcommands. Each returns the process exit code: 0 success, 1 failure (message on stderr),
// 2 bad usage.
#pragma once

namespace moe::cli {

int cmd_info(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_routing(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_make_fixture(int argc, char** argv);

}  // namespace moe::cli
