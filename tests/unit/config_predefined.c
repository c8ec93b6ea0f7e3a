/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_predefined.c - must NOT compile: a size tunable defined before mqota.h (here, or with
 * -D when built with -DVIA_COMMAND_LINE) would change the application's mqota_agent_t and not
 * the library's. CTest expects the #error sentence of mqota_config_defaults.h.
 */
#ifndef VIA_COMMAND_LINE
#define MQOTA_MAX_CHUNKS 8192u
#endif
#include "mqota/mqota.h"

int main(void)
{
    return (int)sizeof(mqota_agent_t) == 0;
}
