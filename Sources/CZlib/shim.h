// zlib for Swift (gzip-compressed IDX files). zlib's inflateInit2 is a macro; Swift calls the
// function behind it, inflateInit2_, passing zlibVersion() and the size of z_stream.
#ifndef HE_TOOL_CZLIB_SHIM_H
#define HE_TOOL_CZLIB_SHIM_H
#include <zlib.h>
#endif
