// moewb tokenize MODEL TEXT [--pieces] [--no-bos] [--no-special] [--file PATH]
#include "cli_args.h"
#include "commands.h"

#include "core/mapped_file.h"
#include "core/utf8.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <string>

namespace moe::cli {

namespace {

// Shows a piece's bytes readably: complete UTF-8 characters as they are; control bytes and bytes that are
// not a whole character (a token may end inside one) as \xNN.
std::string escape_piece(const std::string& piece) {
    std::string out;
    size_t pos = 0;
    while (pos < piece.size()) {
        uint32_t cp = 0;
        const size_t n = utf8_decode(piece, pos, cp);
        const auto c = static_cast<unsigned char>(piece[pos]);
        if (n > 1) {
            out.append(piece, pos, n);
            pos += n;
            continue;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
        ++pos;
    }
    return out;
}

void print_usage(FILE* out) {
    std::fprintf(out,
                 "usage: moewb tokenize MODEL TEXT [--pieces] [--no-bos] [--no-special]\n"
                 "       moewb tokenize MODEL --file PATH [...]\n"
                 "  --pieces   one line per token: id, then its text (bytes escaped)\n"
                 "  --no-bos   do not add the BOS token even when the model asks for it\n"
                 "  --no-special  read special-token text such as <｜User｜> as plain text (by default it\n"
                 "                becomes the special token, as in HF tokenizers and llama-tokenize)\n");
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--pieces", "--no-bos", "--no-special", "--help", "-h"}, {"--file"});
    if (args.flag("--help") || args.flag("-h")) {
        print_usage(stdout);
        return 0;
    }
    const size_t want = args.value("--file") ? 1 : 2;
    if (!args.error().empty() || args.positional().size() != want) {
        std::fprintf(stderr, "moewb tokenize: %s\n", args.error().empty() ? "expected MODEL and TEXT" : args.error().c_str());
        print_usage(stderr);
        return 2;
    }
    std::string text;
    if (auto file = args.value("--file")) {
        auto content = read_text_file(*file);
        if (!content) {
            std::fprintf(stderr, "moewb tokenize: %s\n", content.error().c_str());
            return 1;
        }
        text = std::move(content.value());
    } else {
        text = args.positional()[1];
    }
    auto src = ModelSource::open(args.positional()[0]);
    if (!src) {
        std::fprintf(stderr, "moewb tokenize: %s\n", src.error().c_str());
        return 1;
    }
    if (!src->vocab()) {
        std::fprintf(stderr, "moewb tokenize: %s: the model carries no tokenizer\n", args.positional()[0].c_str());
        return 1;
    }
    auto tok = Tokenizer::create(*src->vocab());
    if (!tok) {
        std::fprintf(stderr, "moewb tokenize: %s\n", tok.error().c_str());
        return 1;
    }
    const std::vector<int32_t> ids = tok->encode(text, !args.flag("--no-bos"), !args.flag("--no-special"));
    if (args.flag("--pieces")) {
        for (int32_t id : ids) std::printf("%7d  '%s'\n", id, escape_piece(tok->token_to_piece(id)).c_str());
        std::printf("%zu tokens\n", ids.size());
    } else {
        for (size_t i = 0; i < ids.size(); ++i) std::printf(i == 0 ? "%d" : " %d", ids[i]);
        std::printf("\n");
    }
    return 0;
}

}  // namespace moe::cli
