#include "CRabbitMQShims.h"

amqp_rpc_reply_t crabbitmq_login_plain(amqp_connection_state_t state,
                                       const char *vhost,
                                       int channel_max,
                                       int frame_max,
                                       int heartbeat,
                                       amqp_table_t client_properties,
                                       const char *username,
                                       const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      &client_properties, AMQP_SASL_METHOD_PLAIN,
                                      username, password);
}
