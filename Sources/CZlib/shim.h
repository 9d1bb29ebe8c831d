// zlib, for the tests only: it compresses the bodies MirrorHTTP1 inflates with ISA-L, so each implementation checks
// the other.
#include <zlib.h>
