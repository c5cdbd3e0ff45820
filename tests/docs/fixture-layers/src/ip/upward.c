/* A file of the IP layer that reaches up into TCP: check_layers.sh must refuse it. */
#include "ip/ip.h"
#include "tcp/tcp.h"
