import OrderCore
import Testing

/// Every state × every event: a transition to the state DESIGN.md's
/// "Order lifecycle" names, "unchanged", or a refusal with a code. The
/// expectations are written out here, not derived from the code under test.
@Suite struct OrderLifecycleTests {
    /// One sample of each event (the reasons are carried, not decided on).
    static let events: [OrderEvent] = [
        .stockAllocated, .stockUnavailable(reason: "insufficient stock"), .stockReserved, .paymentStarted, .paymentAuthorized,
        .paymentDeclined(reason: "card_declined"), .paymentCaptured, .confirmed, .fulfilmentStarted, .shipped, .inTransit, .delivered,
        .cancel(reason: nil), .cancel(reason: "changed my mind"), .reservationExpired, .processingFailed(reason: "deadlock"), .returnReceived,
    ]

    /// What is legal: per event, each state it moves an order from, to where,
    /// with which effects. Every pair not listed is refused (or unchanged, below).
    static let legal: [String: [OrderState: (OrderState, [OrderEffect])]] = [
        "stock-allocated": [.queued: (.confirmed, [.takeStock]), .failed: (.confirmed, [.takeStock])],
        "stock-unavailable": [.queued: (.rejected, []), .failed: (.rejected, [])],
        "stock-reserved": [.queued: (.reserved, [.holdStock, .authorizePayment]), .failed: (.reserved, [.holdStock, .authorizePayment])],
        "payment-started": [.reserved: (.paymentPending, [])],
        // Late (the order stopped waiting): the state stays, the money goes back.
        "payment-authorized": [
            .reserved: (.paid, [.capturePayment]), .paymentPending: (.paid, [.capturePayment]),
            .cancelled: (.cancelled, [.voidPayment]), .failed: (.failed, [.voidPayment]), .rejected: (.rejected, [.voidPayment]),
        ],
        "payment-declined": [
            .reserved: (.failed, [.releaseHold, .voidPayment]), .paymentPending: (.failed, [.releaseHold, .voidPayment]),
            .paid: (.failed, [.releaseHold, .voidPayment]),
        ],
        "payment-captured": [
            .paid: (.confirmed, [.commitHold]),
            .cancelled: (.cancelled, [.refundPayment]), .failed: (.failed, [.refundPayment]), .rejected: (.rejected, [.refundPayment]),
        ],
        "confirmed": [.paid: (.confirmed, [.commitHold])],
        "fulfilment-started": [.confirmed: (.fulfilling, [])],
        "shipped": [.confirmed: (.shipped, []), .fulfilling: (.shipped, [])],
        "in-transit": [.shipped: (.inTransit, [])],
        "delivered": [.shipped: (.delivered, []), .inTransit: (.delivered, [])],
        "cancel": [
            .queued: (.cancelled, []), .reserved: (.cancelled, [.releaseHold]),
            .paymentPending: (.cancelled, [.releaseHold, .voidPayment]), .paid: (.cancelled, [.releaseHold, .voidPayment]),
            .confirmed: (.cancelled, [.restockAll, .refundPayment]), .fulfilling: (.cancelled, [.restockAll, .refundPayment]),
        ],
        "reservation-expired": [
            .reserved: (.cancelled, [.releaseHold, .voidPayment]), .paymentPending: (.cancelled, [.releaseHold, .voidPayment]),
        ],
        "processing-failed": [.queued: (.failed, [])],
        "return-received": [
            .shipped: (.returned, [.restockReturned, .refundPayment]), .inTransit: (.returned, [.restockReturned, .refundPayment]),
            .delivered: (.returned, [.restockReturned, .refundPayment]), .returned: (.returned, [.restockReturned, .refundPayment]),
        ],
    ]

    /// Where an event finds the order already done: nothing to do, not an error.
    /// A payment outcome that arrives again, or after a later one, changes nothing.
    static let unchanged: [String: Set<OrderState>] = [
        "cancel": [.cancelled], "processing-failed": [.failed],
        "payment-started": [.paymentPending, .paid, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned, .cancelled, .failed, .rejected],
        "payment-authorized": [.paid, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned],
        "payment-declined": [.cancelled, .failed, .rejected, .confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned],
        "payment-captured": [.confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned],
    ]

    @Test func everyStateAndEventIsATransitionUnchangedOrARefusalWithACode() {
        #expect(Set(Self.events.map(\.name)) == Set(Self.legal.keys), "every event has its row of expectations")
        var transitions = 0, refusals = 0
        for state in OrderState.allCases {
            for event in Self.events {
                let decision = OrderLifecycle.decide(state, event)
                let label = "\(state.rawValue) × \(event.name)"
                if let (to, effects) = Self.legal[event.name]?[state] {
                    guard case .transition(let transition) = decision else {
                        Issue.record("\(label) should be a transition, got \(decision)")
                        continue
                    }
                    #expect(transition.from == state && transition.to == to && transition.event == event && transition.effects == effects, "\(label): \(decision)")
                    transitions += 1
                } else if Self.unchanged[event.name]?.contains(state) == true {
                    #expect(decision == .unchanged, "\(label): \(decision)")
                } else {
                    guard case .refused(let refusal) = decision else {
                        Issue.record("\(label) should be refused, got \(decision)")
                        continue
                    }
                    refusals += 1
                    #expect(refusal.state == state && refusal.event == event.name, "\(label)")
                    #expect(!refusal.message.isEmpty, "\(label)")
                    let expectedCode = switch event {
                    case .cancel: "order-not-cancellable"
                    case .returnReceived: "order-not-returnable"
                    default: "invalid-transition"
                    }
                    #expect(refusal.code == expectedCode, "\(label): \(refusal.code)")
                }
            }
        }
        #expect(transitions > 0 && refusals > 0)
    }

    /// Cancel before SHIPPED, a return after; each names the other in its refusal.
    @Test func cancelIsAllowedBeforeShippingAndAReturnOnlyAfter() {
        let beforeShipping: [OrderState] = [.queued, .reserved, .paymentPending, .paid, .confirmed, .fulfilling]
        for state in OrderState.allCases {
            let cancel = OrderLifecycle.decide(state, .cancel(reason: nil))
            let returned = OrderLifecycle.decide(state, .returnReceived)
            if beforeShipping.contains(state) {
                guard case .transition(let transition) = cancel else { Issue.record("\(state) cannot be cancelled: \(cancel)"); continue }
                #expect(transition.to == .cancelled)
                guard case .refused = returned else { Issue.record("\(state) can be returned"); continue }
            } else if [.shipped, .inTransit, .delivered, .returned].contains(state) {
                guard case .refused(let refusal) = cancel else { Issue.record("\(state) can be cancelled"); continue }
                #expect(refusal.message.contains("returned"), "the refusal points at a return: \(refusal.message)")
                guard case .transition = returned else { Issue.record("\(state) cannot be returned"); continue }
            }
        }
    }

    /// The reason a transition records: the event's, and a cancel always has one
    /// (the CHECK constraint wants a reason on CANCELLED).
    @Test func reasonsOfTheRecordedTransitions() {
        #expect(OrderEvent.cancel(reason: nil).reason == "cancelled")
        #expect(OrderEvent.cancel(reason: "changed my mind").reason == "changed my mind")
        #expect(OrderEvent.reservationExpired.reason == "reservation-expired")
        #expect(OrderEvent.stockUnavailable(reason: "insufficient stock").reason == "insufficient stock")
        #expect(OrderEvent.stockAllocated.reason == nil)
        for state in OrderState.allCases {
            guard case .transition(let transition) = OrderLifecycle.decide(state, .cancel(reason: nil)) else { continue }
            #expect(transition.event.reason != nil)
        }
    }

    @Test func stateProperties() {
        #expect(OrderState.allCases.count == 13)
        #expect(OrderState.allCases.filter(\.holdsStock) == [.reserved, .paymentPending, .paid])
        #expect(OrderState.allCases.filter(\.hasTakenStock) == [.confirmed, .fulfilling, .shipped, .inTransit, .delivered, .returned])
        #expect(OrderState.paymentPending.eventName == "payment_pending")
        #expect(OrderEventMessage.routingKey(.inTransit) == "order.in_transit")
    }
}

@Suite struct StockLevelPolicyTests {
    /// Available stock after each change, from a product never seen (IN_STOCK),
    /// and the events the policy announces for it: once per crossing.
    @Test func eachCrossingIsAnnouncedOnceWithHysteresis() {
        let policy = StockLevelPolicy(threshold: 5)  // hysteresis 2: back to IN_STOCK only above 7
        let figures = [9, 8, 6, 5, 4, 6, 5, 7, 6, 8, 5, 3, 0, 0, 2, 1, 0, 10, 4]
        let expected: [InventoryEvent?] = [
            nil, nil, nil, .lowStock, nil, nil, nil, nil, nil, nil, .lowStock, nil, .outOfStock, nil, .backInStock, nil, .outOfStock, .backInStock, .lowStock,
        ]
        var level: StockLevel?
        var announced: [InventoryEvent?] = []
        for available in figures {
            let (next, event) = policy.next(from: level, available: available)
            announced.append(event)
            level = next
        }
        #expect(announced == expected)
        #expect(level == .low)
    }

    @Test func levelsFollowTheFigure() {
        let policy = StockLevelPolicy(threshold: 5, hysteresis: 3)
        #expect(policy.next(from: nil, available: 100) == (.inStock, nil))
        #expect(policy.next(from: nil, available: 5) == (.low, .lowStock))
        #expect(policy.next(from: nil, available: 0) == (.out, .outOfStock))
        #expect(policy.next(from: .out, available: 3) == (.low, .backInStock))
        #expect(policy.next(from: .out, available: 6) == (.inStock, .backInStock))
        #expect(policy.next(from: .low, available: 8) == (.low, nil), "not above threshold + hysteresis")
        #expect(policy.next(from: .low, available: 9) == (.inStock, nil), "rises silently")
        #expect(policy.next(from: .out, available: -1) == (.out, nil), "never announced twice")
        #expect(StockLevelPolicy(threshold: 1).hysteresis == 1, "at least one unit of hysteresis")
        #expect(StockLevelPolicy(threshold: -4).threshold == 0)
    }
}
