#ifndef ESTUARY_CZSTD_SHIM_H
#define ESTUARY_CZSTD_SHIM_H
#include <zstd.h>
#endif
