// DeepSeek-R1 style replies: "<think>reasoning</think>answer". The R1 chat template may open the block in the
// prompt itself, so a reply can also start inside it and only close it ("reasoning</think>answer").
#pragma once

#include <QString>

namespace moe::app {

struct ThinkSplit {
    QString thinking;           // the reasoning, trimmed (empty: none)
    QString answer;             // what follows the block (the whole text when there is no block)
    bool hasThinking = false;   // a block was found (open or closed)
    bool thinkingOpen = false;  // the block is not closed yet (a reply still streaming its reasoning)
};

ThinkSplit splitThinking(const QString& content);

}  // namespace moe::app
