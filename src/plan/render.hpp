// Pieces the report renderers share.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "plan/plan.hpp"

namespace etch::plan {

nlohmann::json plan_json(const Plan& plan);

// Escapes text for SVG/XML character data and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace etch::plan
