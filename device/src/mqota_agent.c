/* SPDX-License-Identifier: Apache-2.0 */
#include "mqota/mqota.h"
