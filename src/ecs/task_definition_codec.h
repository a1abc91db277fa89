#pragma once
#include "ecs/task_definition.h"
// src/ecs/task_definition_codec.h  (nlohmann only in the .cc)
namespace berth::ecs {
// RegisterTaskDefinition's request body (a JSON object text, ECS member names) -> TaskDefinition
// (not yet validated). Wrong member types: ClientException / SerializationException with a message
// naming the member. Unknown members ignored.
Result<TaskDefinition> TaskDefinitionFromRequest(std::string_view json_object_text);
// The `taskDefinition` object exactly as DescribeTaskDefinition returns it (ECS member names,
// omitted members left out, timestamps epoch seconds), as JSON text. No tags (they are returned
// beside it).
std::string TaskDefinitionToJson(const TaskDefinition& td);
// Store record: full round trip including tags/status/registered_by.
std::string EncodeTaskDefinitionRecord(const TaskDefinition& td);
Result<TaskDefinition> DecodeTaskDefinitionRecord(std::string_view record);
}  // namespace berth::ecs

