// he-tool: the few CPU hints Swift cannot spell, as static inline functions that Swift inlines.
#ifndef HE_TOOL_CSUPPORT_H
#define HE_TOOL_CSUPPORT_H

/// Asks the CPU to bring the cache line holding `p` towards L1 for reading. A hint only: it
/// never faults, so `p` may point past the end of a buffer.
static inline void he_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
