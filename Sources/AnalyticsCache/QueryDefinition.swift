/// Who a query's results belong to: one result for everybody, per tenant, or per user. The scope
/// value is part of every key of a scoped query, so two tenants never share an entry.
public enum QueryScope: String, Sendable, Hashable, Codable {
    case global, tenant, user
}

/// The value of a request's scope: which tenant or user asks (ignored by global queries).
public struct ScopeValue: Sendable, Hashable {
    /// The tenant, for tenant-scoped queries.
    public var tenant: String?
    /// The user, for user-scoped queries.
    public var user: String?

    /// - Parameters:
    ///   - tenant: the tenant asking
    ///   - user: the user asking
    public init(tenant: String? = nil, user: String? = nil) {
        self.tenant = tenant
        self.user = user
    }

    /// No tenant, no user: what global queries need.
    public static let none = ScopeValue()
}

/// How long a query's results may be served without an event invalidating them.
public enum ExpiryPolicy: Sendable, Hashable {
    /// Until an event (or a data version change, or a manual invalidation) removes them.
    case never
    /// A fixed time to live.
    case ttl(Duration)
    /// Until the end of the current calendar unit (the query's SQL reads the current time:
    /// `current_date`, `now()`), in the window's time zone.
    case window(CalendarWindow)
    /// Until the instant a parameter names (a date: its midnight UTC; an integer: µs since the
    /// epoch) when it is still ahead — a window whose end is a parameter closes then; a result
    /// whose window already closed lives until invalidated.
    case untilParameter(String)
    /// `factor` × the measured computation time, within the bounds (Metabase's adaptive TTL):
    /// results that are expensive to compute are kept longer.
    case adaptive(factor: Double, min: Duration, max: Duration)
}

/// Which changes a query's results depend on.
public enum DependencyPolicy: Sendable, Hashable {
    /// Derived: the event types whose projections write the tables the SQL reads.
    case derived
    /// Exactly these key expressions over `events/{AggregateType}/{AggregateId}` (narrows the
    /// derived dependency, e.g. to one customer: `events/Customer/{customer}`).
    case only([String])
    /// The derived event types plus these key expressions (widens it).
    case adding([String])
}

/// A registered query: SQL with typed parameters, a scope, an expiry and its dependencies.
///
/// The SQL is the developer's (a single SELECT, checked at registration); requests only supply
/// parameter values, which are bound, never spliced into the text. The SQL's `?` placeholders are
/// bound in this order: the scope value first (the tenant or user, when the query is scoped), then
/// the declared parameters in declaration order.
public struct QueryDefinition: Sendable {
    /// The query's id in URLs and keys (letters, digits, `-`, `_`, `.`).
    public var id: String
    /// One SELECT statement with `?` placeholders.
    public var sql: String
    /// Its parameters, in placeholder order (after the scope value of a scoped query).
    public var parameters: [ParameterSpec]
    /// Whose results these are.
    public var scope: QueryScope
    /// How long a result may be served.
    public var expiry: ExpiryPolicy
    /// What invalidates its results.
    public var dependencies: DependencyPolicy
    /// The largest result cached, in Arrow IPC bytes; a larger one is served but not cached.
    public var maxCachedBytes: Int
    /// The parameters bounding the event time the query covers, if any: then events whose time
    /// lies outside a result's range leave it alone.
    public var eventTime: EventTimeRange?
    /// The datasets (``AnalyticsCache/Configuration/datasets``) its results are computed from: only
    /// their versions are in its keys, and only their changes remove its results. Nil (the
    /// default): every declared dataset, the safe choice when unsure.
    public var datasets: [String]?

    /// Declares a query.
    /// - Parameters:
    ///   - id: its id
    ///   - sql: one SELECT with `?` placeholders (scope value first when scoped, then parameters)
    ///   - parameters: its parameters, in placeholder order
    ///   - scope: global (default), tenant or user
    ///   - expiry: default `.never` (events invalidate)
    ///   - dependencies: default `.derived`
    ///   - maxCachedBytes: default 64 MiB
    ///   - eventTime: the parameters bounding the event time it covers (default none)
    ///   - datasets: the datasets it reads (default nil: all of them)
    public init(
        id: String, sql: String, parameters: [ParameterSpec] = [], scope: QueryScope = .global, expiry: ExpiryPolicy = .never,
        dependencies: DependencyPolicy = .derived, maxCachedBytes: Int = 64 << 20, eventTime: EventTimeRange? = nil,
        datasets: [String]? = nil
    ) {
        self.eventTime = eventTime
        self.datasets = datasets
        self.id = id
        self.sql = sql
        self.parameters = parameters
        self.scope = scope
        self.expiry = expiry
        self.dependencies = dependencies
        self.maxCachedBytes = maxCachedBytes
    }

    /// Checks a request's parameters: unknown names, missing required ones, types and rules, and the
    /// scope value a scoped query needs.
    /// - Parameters:
    ///   - given: the request's typed values by name
    ///   - scope: who asks
    /// - Returns: every declared parameter's canonical value, in declaration order
    /// - Throws: ``ParameterError`` naming the parameter and the rule
    public func validate(_ given: [String: ParameterValue], scope value: ScopeValue) throws -> [ParameterValue] {
        if let unknown = given.keys.sorted().first(where: { name in !parameters.contains { $0.name == name } }) {
            throw ParameterError(parameter: unknown, rule: "is not a parameter of query \(id)")
        }
        switch scope {
        case .global: break
        case .tenant where value.tenant?.isEmpty == false: break
        case .user where value.user?.isEmpty == false: break
        case .tenant, .user:
            throw ParameterError(parameter: scope.rawValue, rule: "query \(id) is per \(scope.rawValue): the request must name one")
        }
        return try parameters.map { spec in
            if let value = given[spec.name] { return try spec.check(value) }
            guard let fallback = spec.defaultValue else { throw ParameterError(parameter: spec.name, rule: "is required") }
            return try spec.check(fallback)
        }
    }

    /// Parses and checks a request's text parameters (URL query items).
    /// - Parameters:
    ///   - given: raw values by name
    ///   - scope: who asks
    /// - Returns: every declared parameter's canonical value, in declaration order
    /// - Throws: ``ParameterError``
    public func validate(text given: [String: String], scope value: ScopeValue) throws -> [ParameterValue] {
        var typed: [String: ParameterValue] = [:]
        for (name, text) in given {
            guard let spec = parameters.first(where: { $0.name == name }) else {
                throw ParameterError(parameter: name, rule: "is not a parameter of query \(id)")
            }
            typed[name] = try spec.parse(text)
        }
        return try validate(typed, scope: value)
    }

    /// The scope value bound first, if the query is scoped.
    func scopeBinding(_ value: ScopeValue) -> String? {
        switch scope {
        case .global: nil
        case .tenant: value.tenant
        case .user: value.user
        }
    }
}
