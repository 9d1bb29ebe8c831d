// zlib, for the decoded sizes of gzip and deflate bodies (issue 3 asks for a library, not a hand-written inflater).
#include <zlib.h>
