import OrderCore
import Postgres

/// The channel references of a window of orders as the four array
/// parameters of `orders.channel`, `channel_shop`, `channel_order_id` and
/// `channel_order_name`, for a statement that inserts many orders through
/// `unnest`. A window without a channel order (every order the HTTP API
/// took) passes four empty arrays: `unnest` pads the shorter arrays with
/// NULLs, so the order-apply path builds nothing per order for them.
struct ChannelColumns {
    let parameters: [any PostgresEncodable]

    init(_ references: [ChannelOrderReference?]) {
        guard references.contains(where: { $0 != nil }) else {
            let none = PostgresArray([String]())
            parameters = [none, none, none, none]
            return
        }
        parameters = [
            PostgresArray(optional: references.map { $0?.channel }), PostgresArray(optional: references.map { $0?.shop }),
            PostgresArray(optional: references.map { $0?.orderId }), PostgresArray(optional: references.map { $0?.orderName }),
        ]
    }
}
