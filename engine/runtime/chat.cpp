#include "runtime/chat.h"

#include "model/model.h"
#include "template/chat_template.h"

namespace moe {

Result<std::string> render_chat(const Model& model, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
    if (model.chat_template().empty()) return Status::error(model.description().path + ": the model has no chat template");
    ChatTemplateInputs in;
    for (const ChatMessage& m : messages) in.messages.push_back({{"role", m.role}, {"content", m.content}});
    in.add_generation_prompt = add_generation_prompt;
    const Tokenizer& tok = model.tokenizer();
    if (tok.bos_id() >= 0) in.bos_token = tok.token_to_piece(tok.bos_id(), true);
    if (tok.eos_id() >= 0) in.eos_token = tok.token_to_piece(tok.eos_id(), true);
    auto text = render_chat_template(model.chat_template(), in, model.description().path + " (chat template)");
    if (!text.ok()) return text.status();
    return text;
}

Result<std::vector<int32_t>> chat_prompt_tokens(const Model& model, const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt) {
    MOE_ASSIGN_OR_RETURN(std::string text, render_chat(model, messages, add_generation_prompt));
    return model.tokenizer().encode(text, true, true);
}

Result<FitResult> fit_chat_to_context(const Model& model, std::vector<ChatMessage>& messages, int64_t n_ctx,
                                      int64_t reserve, bool drop_oldest) {
    FitResult r;
    const int64_t budget = n_ctx - std::max<int64_t>(0, reserve);
    for (;;) {
        MOE_ASSIGN_OR_RETURN(r.tokens, chat_prompt_tokens(model, messages, true));
        const int64_t need = static_cast<int64_t>(r.tokens.size());
        if (need <= budget) return r;
        // The oldest message that is neither a system message nor the last one.
        size_t victim = messages.size();
        for (size_t i = 0; i + 1 < messages.size(); ++i) {
            if (messages[i].role != "system") {
                victim = i;
                break;
            }
        }
        if (!drop_oldest || victim == messages.size()) {
            return Status::error("the conversation needs " + std::to_string(need) + " tokens, the context holds " +
                                 std::to_string(n_ctx) + " (" + std::to_string(budget) +
                                 " left after reserving room for the reply)" +
                                 (drop_oldest ? "; even its last message alone does not fit"
                                              : "; start a new conversation, enlarge the context or allow dropping "
                                                "old turns"));
        }
        messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(victim));
        ++r.dropped_messages;
    }
}

}  // namespace moe
