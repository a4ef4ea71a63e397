// resize_check with the persistent antialias kernel's weight table cut to
// 12 source rows, so that tiles shrinking by more than about 1.2× take its
// general loop (kernels/resize_pack_pipe.cu, RPA_ROWS): same arguments.
#define RPA_ROWS 12
#include "resize_check.cpp"
