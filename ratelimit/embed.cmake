# embed.cmake — turns a text file into a C array definition: cmake -DIN=f -DOUT=f.c -DNAME=sym -P
file(READ ${IN} HEX HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES "${HEX}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed.cmake: do not edit. */\nconst char ${NAME}[] = {${BYTES} 0x00};\n")
