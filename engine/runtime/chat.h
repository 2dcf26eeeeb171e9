// Conversations as token prompts: messages rendered with the model's chat template (or the built-in one for its
// family) and tokenized with special tokens parsed; and fitting a conversation into a context window, either
// refusing with a clear message or (when the user chose it) dropping the oldest turns.
#pragma once

#include "core/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

class Model;

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

// The rendered prompt text of `messages` (add_generation_prompt: end with the assistant's turn opener).
Result<std::string> render_chat(const Model& model, const std::vector<ChatMessage>& messages, bool add_generation_prompt);
// Its tokens (BOS added once when the model asks for it; special-token text becomes special tokens).
Result<std::vector<int32_t>> chat_prompt_tokens(const Model& model, const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt = true);

struct FitResult {
    std::vector<int32_t> tokens;
    int32_t dropped_messages = 0;
};
// The prompt tokens of `messages` when they leave `reserve` positions free in a context of n_ctx. Otherwise:
// with drop_oldest, removes the oldest user/assistant messages (system messages and the last user message stay)
// from `messages` until it fits; without, fails with "the conversation needs N tokens, the context holds M
// (M - reserve left for the reply); start a new conversation, enlarge the context or allow dropping old turns".
Result<FitResult> fit_chat_to_context(const Model& model, std::vector<ChatMessage>& messages, int64_t n_ctx,
                                      int64_t reserve, bool drop_oldest);

}  // namespace moe
