# SPDX-License-Identifier: Apache-2.0
# Source and include lists of libmqota, for any build system (CMake, ESP-IDF components).
set(MQOTA_CORE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_status.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_crc32.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_le.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_proto.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_telemetry.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_health.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_image.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_manifest.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_command.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_record.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_agent.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_agent_cmd.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_agent_store.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_delta.c
    ${CMAKE_CURRENT_LIST_DIR}/src/mqota_decode.c)
set(MQOTA_CORE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/include)
