/* pc_suppress.h — `pregonctl suppress add|remove|list|import`: the operator's suppressions
 * (store/st_suppress.h), each change audited with who and why. */
#ifndef PC_SUPPRESS_H
#define PC_SUPPRESS_H

/* argv[0] is "suppress". Returns the process exit code: 0 done; 1 nothing changed (kept, absent)
 * or an import had bad lines; 2 usage; 3 Redis unreachable or failed. */
int pc_suppress_main(int argc, char **argv);

#endif
