/* pc_keys.h — `pregonctl keys new|show`: CURVE key pairs for pregond and its peers
 * (common/pg_keyfile.h describes the files). */
#ifndef PC_KEYS_H
#define PC_KEYS_H

/* argv[0] is "keys". Returns the process exit code: 0 done; 1 the files could not be written or
 * read (exists already, bad permissions, bad file); 2 usage. */
int pc_keys_main(int argc, char **argv);

#endif
