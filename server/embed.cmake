# SPDX-License-Identifier: Apache-2.0
# cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed.cmake
# Turns a file into a C source defining `const char SYMBOL[]` (NUL-terminated) and
# `const size_t SYMBOL_len` (without the NUL). Pure CMake: no xxd needed.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* SPDX-License-Identifier: Apache-2.0 */\n"
  "/* Generated from ${IN} by embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "const char ${SYMBOL}[] = {\n    ${bytes}0x00};\n"
  "const size_t ${SYMBOL}_len = ${size};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
