/// An order's state (DESIGN.md "Order lifecycle"); the raw values are what
/// `orders.status` holds (its CHECK constraint allows exactly these) and what
/// the API shows.
public enum OrderState: String, Sendable, Hashable, CaseIterable, Codable {
    case queued = "QUEUED"
    case rejected = "REJECTED"
    case reserved = "RESERVED"
    case paymentPending = "PAYMENT_PENDING"
    case paid = "PAID"
    case confirmed = "CONFIRMED"
    case fulfilling = "FULFILLING"
    case shipped = "SHIPPED"
    case inTransit = "IN_TRANSIT"
    case delivered = "DELIVERED"
    case cancelled = "CANCELLED"
    case failed = "FAILED"
    case returned = "RETURNED"

    /// Stock is held for the order (a reservation with a deadline).
    public var holdsStock: Bool { self == .reserved || self == .paymentPending || self == .paid }

    /// Stock is committed to the order and the vendors were told.
    public var hasTakenStock: Bool { [.confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned].contains(self) }

    /// The `order.<state>` routing key part of its events.
    public var eventName: String { rawValue.lowercased() }
}

/// Who caused a transition (order_transitions.actor).
public enum OrderActor: String, Sendable, Hashable, CaseIterable, Codable {
    case customer
    case `operator`
    case system
}

/// Something that happens to an order. `name` is the transition's cause as
/// recorded in its history and carried by its event.
public enum OrderEvent: Sendable, Hashable {
    /// The worker found stock for every line and took it.
    case stockAllocated
    /// The worker could not (not enough stock, unknown product, an unusable checkout hold).
    case stockUnavailable(reason: String)
    /// The worker held the stock while a payment is made (the order asked for one).
    case stockReserved
    /// The gateway is working on the payment (the customer must act, for
    /// example 3-D Secure; an asynchronous outcome will follow).
    case paymentStarted
    /// The gateway authorized the amount (not yet captured). Late (the order
    /// stopped waiting for it: cancelled, failed, rejected) it is voided.
    case paymentAuthorized
    /// The gateway refused the payment (a decline code), or could not capture it.
    case paymentDeclined(reason: String)
    /// The gateway captured the authorized amount: the hold becomes an
    /// allocation. Late (the order was cancelled meanwhile) it is refunded.
    case paymentCaptured
    /// The payment was captured (or the operator confirmed): the hold becomes an allocation.
    case confirmed
    case fulfilmentStarted
    case shipped
    case inTransit
    case delivered
    case cancel(reason: String?)
    /// The reservation timer ran out before the order was paid.
    case reservationExpired
    /// Processing failed after every retry.
    case processingFailed(reason: String)
    /// Goods came back (some or all units of some lines; the store checks
    /// that no line returns more than was bought).
    case returnReceived

    public var name: String {
        switch self {
        case .stockAllocated: "stock-allocated"
        case .stockUnavailable: "stock-unavailable"
        case .stockReserved: "stock-reserved"
        case .paymentStarted: "payment-started"
        case .paymentAuthorized: "payment-authorized"
        case .paymentDeclined: "payment-declined"
        case .paymentCaptured: "payment-captured"
        case .confirmed: "confirmed"
        case .fulfilmentStarted: "fulfilment-started"
        case .shipped: "shipped"
        case .inTransit: "in-transit"
        case .delivered: "delivered"
        case .cancel: "cancel"
        case .reservationExpired: OrderLifecycle.reservationExpiredReason
        case .processingFailed: "processing-failed"
        case .returnReceived: "return-received"
        }
    }

    /// The reason the order row and the history record with the transition.
    public var reason: String? {
        switch self {
        case .stockUnavailable(let reason), .paymentDeclined(let reason), .processingFailed(let reason): reason
        case .cancel(let reason): reason ?? "cancelled"
        case .reservationExpired: OrderLifecycle.reservationExpiredReason
        default: nil
        }
    }
}

/// What a transition does to stock and money, beyond the new state. The
/// store carries these out in the transition's own transaction.
public enum OrderEffect: Sendable, Hashable {
    /// Allocate the lines' stock (movements `allocate`, vendors told).
    case takeStock
    /// Hold the lines' stock until the reservation deadline (movements `hold`).
    case holdStock
    /// End the hold: the units come back to available stock (movements `release`).
    case releaseHold
    /// The hold becomes an allocation: `release` then `allocate` of the same units, vendors told.
    case commitHold
    /// Give back everything the order took: local stock restored and a
    /// `restock` movement to every vendor that was told.
    case restockAll
    /// Give back the returned units (`restock` movements for them).
    case restockReturned
    /// Ask the gateway to authorize the order's amount (an order that pays first).
    case authorizePayment
    /// Ask the gateway to capture the authorization.
    case capturePayment
    /// Cancel the payment authorization, when there is one (the payment worker carries it out).
    case voidPayment
    /// Refund what was captured, when anything was (the returned lines' amount for a partial return).
    case refundPayment
}

/// A legal transition: the new state and what it implies.
public struct OrderTransition: Sendable, Hashable {
    public let from: OrderState
    public let to: OrderState
    public let event: OrderEvent
    public let effects: [OrderEffect]
}

/// Why an event cannot apply to an order in its state. `code` is the
/// problem+json `code` the API answers with (409).
public struct TransitionRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public let state: OrderState
    public let event: String
    public let message: String

    public var description: String { "\(code): \(message)" }
}

/// The outcome of offering an event to an order.
public enum TransitionDecision: Sendable, Hashable {
    case transition(OrderTransition)
    /// The order is already where the event would take it (a second cancel):
    /// nothing to do, not an error.
    case unchanged
    case refused(TransitionRefusal)
}

/// The one transition function. Every status change of an order goes through
/// `decide`; the store writes `orders.status` only with what it returns.
public enum OrderLifecycle {
    public static let reservationExpiredReason = "reservation-expired"

    public static func decide(_ state: OrderState, _ event: OrderEvent) -> TransitionDecision {
        func to(_ next: OrderState, _ effects: [OrderEffect] = []) -> TransitionDecision {
            .transition(OrderTransition(from: state, to: next, event: event, effects: effects))
        }
        func refuse(_ code: String, _ message: String) -> TransitionDecision {
            .refused(TransitionRefusal(code: code, state: state, event: event.name, message: message))
        }
        func notNow() -> TransitionDecision {
            refuse("invalid-transition", "\(event.name) does not apply to an order that is \(state.rawValue)")
        }

        switch event {
        case .stockAllocated:
            // FAILED → CONFIRMED: an order whose retries were spent, replayed from the DLQ.
            return state == .queued || state == .failed ? to(.confirmed, [.takeStock]) : notNow()
        case .stockUnavailable:
            return state == .queued || state == .failed ? to(.rejected) : notNow()
        case .stockReserved:
            return state == .queued || state == .failed ? to(.reserved, [.holdStock, .authorizePayment]) : notNow()
        case .paymentStarted:
            switch state {
            case .reserved: return to(.paymentPending)
            case .paymentPending, .paid, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned, .cancelled, .failed, .rejected:
                // A redelivered or reordered outcome: what the order knows already wins.
                return .unchanged
            case .queued: return notNow()
            }
        case .paymentAuthorized:
            switch state {
            case .reserved, .paymentPending: return to(.paid, [.capturePayment])
            // Late: the order stopped waiting (expired, cancelled, declined). The
            // money is given back and the order stays where it is; the history
            // records the late payment as a transition of the state to itself.
            case .cancelled, .failed, .rejected: return to(state, [.voidPayment])
            case .paid, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned: return .unchanged
            case .queued: return notNow()
            }
        case .paymentDeclined:
            switch state {
            // PAID: the capture failed for good (the authorization lapsed).
            case .reserved, .paymentPending, .paid: return to(.failed, [.releaseHold, .voidPayment])
            case .cancelled, .failed, .rejected, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned: return .unchanged
            case .queued: return notNow()
            }
        case .paymentCaptured:
            switch state {
            case .paid: return to(.confirmed, [.commitHold])
            // Late: captured for an order that no longer waits for it: refunded in full.
            case .cancelled, .failed, .rejected: return to(state, [.refundPayment])
            case .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned: return .unchanged
            case .queued, .reserved, .paymentPending: return notNow()
            }
        case .confirmed:
            return state == .paid ? to(.confirmed, [.commitHold]) : notNow()
        case .fulfilmentStarted:
            return state == .confirmed ? to(.fulfilling) : notNow()
        case .shipped:
            return state == .confirmed || state == .fulfilling ? to(.shipped) : notNow()
        case .inTransit:
            return state == .shipped ? to(.inTransit) : notNow()
        case .delivered:
            return state == .shipped || state == .inTransit ? to(.delivered) : notNow()
        case .cancel:
            switch state {
            case .queued: return to(.cancelled)
            case .reserved: return to(.cancelled, [.releaseHold])
            case .paymentPending, .paid: return to(.cancelled, [.releaseHold, .voidPayment])
            case .confirmed, .fulfilling: return to(.cancelled, [.restockAll, .refundPayment])
            case .cancelled: return .unchanged
            case .shipped, .inTransit, .delivered, .returned:
                return refuse("order-not-cancellable", "the order is \(state.rawValue); once shipped it can be returned, not cancelled")
            case .rejected, .failed:
                return refuse("order-not-cancellable", "the order is \(state.rawValue) and holds nothing to cancel")
            }
        case .reservationExpired:
            // PAID is about to be confirmed: the payment outcome, not the timer, decides it.
            return state == .reserved || state == .paymentPending ? to(.cancelled, [.releaseHold, .voidPayment]) : notNow()
        case .processingFailed:
            switch state {
            case .queued: return to(.failed)
            case .failed: return .unchanged
            default: return notNow()
            }
        case .returnReceived:
            switch state {
            case .shipped, .inTransit, .delivered, .returned:
                // RETURNED from the first return on; each line says how many of its
                // units came back, and a later return of the remaining units is
                // RETURNED → RETURNED. SHIPPED: the customer refused the delivery.
                return to(.returned, [.restockReturned, .refundPayment])
            default:
                return refuse("order-not-returnable", "the order is \(state.rawValue); only a shipped or delivered order can be returned")
            }
        }
    }
}
