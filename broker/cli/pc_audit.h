/* pc_audit.h — `pregonctl audit verify|debtor|export|stats`: the compliance officer's view of
 * the archive pregon-audit keeps (broker/audit/): checking it is intact, one debtor's contact
 * log, exports for a regulator or a warehouse, and the weekly counts. Files only: no Redis. */
#ifndef PC_AUDIT_H
#define PC_AUDIT_H

/* Runs the subcommand (argv[0] = "audit"). Exit: 0 done (verify: intact), 1 verify found a
 * problem (or a command failed), 2 usage, 3 the archive or its index cannot be read. */
int pc_audit_main(int argc, char **argv);

#endif
