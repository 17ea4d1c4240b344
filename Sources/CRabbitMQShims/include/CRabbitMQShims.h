#ifndef CRABBITMQ_SHIMS_H
#define CRABBITMQ_SHIMS_H
#include <amqp.h>

// amqp_login is variadic (the SASL arguments), which Swift cannot call.
// This fixes it to PLAIN authentication with a username and password.
amqp_rpc_reply_t crabbitmq_login_plain(amqp_connection_state_t state,
                                       const char *vhost,
                                       int channel_max,
                                       int frame_max,
                                       int heartbeat,
                                       amqp_table_t client_properties,
                                       const char *username,
                                       const char *password);
#endif
