// libpng for Swift. The Model layer uses only libpng's simplified API (png_image_*), which
// reports errors through return values and png_image.message rather than longjmp, so no C
// error handler is needed on the Swift side.
#ifndef HE_TOOL_CPNG_SHIM_H
#define HE_TOOL_CPNG_SHIM_H
#include <png.h>
#endif
