// he-tool: CSupport has only header-inline functions; this file gives the target a translation unit.
#include "CSupport.h"
