#include "services/chat_types.h"

#include <QJsonDocument>

namespace moe::app {

QJsonObject SamplingSettings::toJson() const {
    return QJsonObject{{"temperature", temperature}, {"top_k", topK},           {"top_p", topP},
                       {"min_p", minP},              {"repeat_penalty", repeatPenalty},
                       {"max_tokens", maxTokens},    {"seed", seed},             {"n_ctx", contextTokens}};
}

SamplingSettings SamplingSettings::fromJson(const QJsonObject& json) {
    SamplingSettings s;
    s.temperature = json.value("temperature").toDouble(s.temperature);
    s.topK = json.value("top_k").toInt(s.topK);
    s.topP = json.value("top_p").toDouble(s.topP);
    s.minP = json.value("min_p").toDouble(s.minP);
    s.repeatPenalty = json.value("repeat_penalty").toDouble(s.repeatPenalty);
    s.maxTokens = json.value("max_tokens").toInt(s.maxTokens);
    s.seed = json.value("seed").toInteger(s.seed);
    s.contextTokens = json.value("n_ctx").toInt(s.contextTokens);
    return s;
}

SamplingSettings SamplingSettings::fromJsonText(const QString& text) {
    return fromJson(QJsonDocument::fromJson(text.toUtf8()).object());
}

QString SamplingSettings::toJsonText() const {
    return QString::fromUtf8(QJsonDocument(toJson()).toJson(QJsonDocument::Compact));
}

}  // namespace moe::app
