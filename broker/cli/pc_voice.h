/* pc_voice.h — `pregonctl voice numbers list|retire|restore`: the caller ids of pregon-voice's
 * pools (channels/voice/vc_pool.h). retire and restore rewrite the retired list atomically; a
 * running pregon-voice reloads it within a second (it watches the file), so a number flagged
 * or blocked by a carrier stops calling without a restart. */
#ifndef PC_VOICE_H
#define PC_VOICE_H

/* argv[0] is "voice". Returns 0 done, 1 a file could not be read or written, 2 usage. */
int pc_voice_main(int argc, char **argv);

#endif
