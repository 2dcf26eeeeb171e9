// StopStringMatcher of sampler.h: a small buffer of text that could still turn into a stop string.
#include "runtime/sampler.h"

#include <algorithm>

namespace moe {

namespace {

// Bytes at the end of `text` that start a UTF-8 sequence the text does not complete (0 to 3). Invalid bytes
// are not held: they will never complete, and showing them (as U+FFFD) beats waiting forever.
size_t incomplete_utf8_tail(std::string_view text) {
    const size_t n = text.size();
    for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
        const auto c = static_cast<unsigned char>(text[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back for the lead byte
        size_t need = 0;
        if ((c & 0xE0) == 0xC0) need = 2;
        else if ((c & 0xF0) == 0xE0) need = 3;
        else if ((c & 0xF8) == 0xF0) need = 4;
        return need > back ? back : 0;  // ASCII or a complete / invalid sequence: nothing to hold
    }
    return 0;
}

}  // namespace

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
    for (std::string& s : stops) {
        if (!s.empty()) m_stops.push_back(std::move(s));
    }
}

void StopStringMatcher::reset() {
    m_pending.clear();
    m_stopped = false;
}

// The longest suffix of m_pending that is a proper prefix of some stop string: any future match must start
// there, since every earlier start was already ruled out. At least an incomplete UTF-8 tail is held too.
size_t StopStringMatcher::held_back_length() const {
    const std::string_view pending(m_pending);
    size_t held = 0;
    for (const std::string& stop : m_stops) {
        const size_t longest = std::min(pending.size(), stop.size() - 1);
        for (size_t len = longest; len > held; --len) {
            if (pending.substr(pending.size() - len) == std::string_view(stop).substr(0, len)) {
                held = len;
                break;
            }
        }
    }
    return std::max(held, incomplete_utf8_tail(pending));
}

StopStringMatcher::Output StopStringMatcher::push(std::string_view text) {
    Output out;
    if (m_stopped) {
        out.stopped = true;
        return out;
    }
    m_pending.append(text);

    // The earliest stop string to start wins; what precedes it is shown, the rest dropped.
    size_t first = std::string::npos;
    for (const std::string& stop : m_stops) first = std::min(first, m_pending.find(stop));
    if (first != std::string::npos) {
        out.text = m_pending.substr(0, first);
        out.stopped = true;
        m_stopped = true;
        m_pending.clear();
        return out;
    }
    const size_t ready = m_pending.size() - held_back_length();
    out.text = m_pending.substr(0, ready);
    m_pending.erase(0, ready);
    return out;
}

std::string StopStringMatcher::flush() {
    std::string out;
    out.swap(m_pending);
    return out;
}

}  // namespace moe
