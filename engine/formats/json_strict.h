// Strict JSON for file headers and indexes: UTF-8 checked, duplicate object keys refused (nlohmann keeps
// one of them silently), nesting depth capped, and no exception escapes.
#pragma once

#include "core/status.h"
#include "core/utf8.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace moe {


// Parses `text` as one JSON value. Fails with "<name>: ..." when the text is not valid UTF-8, not valid
// JSON, has a duplicate key in any object (the message gives the key path, e.g. "'weight_map' -> 'x'"),
// or nests objects/arrays deeper than `max_depth` levels (the root object is level 1).
Result<nlohmann::json> parse_json_strict(std::string_view text, const std::string& name, size_t max_depth);

// The JSON type name of a value ("string", "number", "object", ...), for messages.
const char* json_kind(const nlohmann::json& value);

}  // namespace moe
