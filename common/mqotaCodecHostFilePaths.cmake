# SPDX-License-Identifier: Apache-2.0
# The server's halves of libmqota's codecs (common/mqota_*_host.c): what mqotad and the CLI
# encode for devices and decode from them. Not device code: an ESP-IDF or Arduino build takes
# device/mqotaFilePaths.cmake only. They share libmqota's internal field tables, hence the
# private include directory device/src.
set(MQOTA_CODEC_HOST_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/mqota_proto_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_command_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_manifest_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_image_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_telemetry_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_health_host.c
    ${CMAKE_CURRENT_LIST_DIR}/mqota_record_host.c)
set(MQOTA_CODEC_HOST_PRIVATE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/../device/src)
