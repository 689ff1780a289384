// Built on platforms other than Linux so the package installs there; lib/native.ts never
// calls into it (spawnGuest rejects with ERR_CAPSPAWN_UNSUPPORTED_PLATFORM first).
#include <napi.h>

static Napi::Object Init(Napi::Env, Napi::Object exports) { return exports; }

NODE_API_MODULE(capspawn, Init)
