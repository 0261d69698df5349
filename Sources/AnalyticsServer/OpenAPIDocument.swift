/// The OpenAPI 3.1 description of the server's HTTP API, served at `GET /openapi.json` (kept true
/// by `OpenAPITests`, which checks it against the router and the live responses).
enum OpenAPIDocument {
    /// The paths and methods it describes (what the test compares with the router).
    static let operations: [(method: String, path: String)] = [
        ("GET", "/api/queries"), ("GET", "/api/queries/{id}"), ("POST", "/api/events"), ("GET", "/api/analytics/stream"),
        ("POST", "/api/cache/invalidate"), ("POST", "/api/admin/reload"), ("GET", "/metrics"), ("GET", "/health"), ("GET", "/ready"), ("GET", "/openapi.json"),
    ]

    static let json = #"""
    {
      "openapi": "3.1.0",
      "info": {
        "title": "swift-analytics-cache",
        "version": "1.0.0",
        "description": "Cached DuckDB analytics results kept fresh by an event log, with live updates over Server-Sent Events."
      },
      "components": {
        "schemas": {
          "Error": {
            "type": "object", "required": ["error"],
            "properties": {
              "error": {"type": "string"}, "parameter": {"type": "string"}, "rule": {"type": "string"},
              "field": {"type": "string"}, "requestId": {"type": "string"}, "actualVersion": {"type": "string"},
              "reason": {"type": "string"}
            }
          },
          "Parameter": {
            "type": "object", "required": ["name", "type", "required"],
            "properties": {
              "name": {"type": "string"}, "type": {"enum": ["integer", "double", "text", "boolean", "date"]},
              "required": {"type": "boolean"}, "default": {"type": "string"}, "minimum": {"type": "number"},
              "maximum": {"type": "number"}, "enum": {"type": "array", "items": {"type": "string"}}, "maxLength": {"type": "integer"}
            }
          },
          "Append": {
            "type": "object", "required": ["aggregateType", "aggregateId", "events"],
            "properties": {
              "aggregateType": {"type": "string", "minLength": 1},
              "aggregateId": {"type": "string", "minLength": 1},
              "expectedVersion": {"oneOf": [{"enum": ["any", "none"]}, {"type": "integer", "minimum": 1}]},
              "events": {
                "type": "array", "minItems": 1,
                "items": {
                  "type": "object", "required": ["type"],
                  "properties": {"type": {"type": "string", "minLength": 1}, "payload": {"type": "object"}, "metadata": {"type": "object"}}
                }
              }
            }
          }
        },
        "responses": {
          "Problem": {"description": "The request could not be served", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
      },
      "paths": {
        "/api/queries": {
          "get": {
            "summary": "The registered queries and their parameters",
            "responses": {
              "200": {"description": "The queries", "content": {"application/json": {"schema": {
                "type": "object", "required": ["queries"],
                "properties": {"queries": {"type": "array", "items": {
                  "type": "object", "required": ["id", "scope", "parameters"],
                  "properties": {"id": {"type": "string"}, "scope": {"enum": ["global", "tenant", "user"]},
                                 "parameters": {"type": "array", "items": {"$ref": "#/components/schemas/Parameter"}}}}}}}}}}
            }
          }
        },
        "/api/queries/{id}": {
          "get": {
            "summary": "A query's result: JSON rows (default), Arrow IPC or CSV",
            "parameters": [
              {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
              {"name": "params", "in": "query", "required": false, "style": "form", "explode": true,
               "schema": {"type": "object", "additionalProperties": {"type": "string"}}, "description": "The query's parameters by name"},
              {"name": "If-None-Match", "in": "header", "required": false, "schema": {"type": "string"}},
              {"name": "Cache-Control", "in": "header", "required": false, "schema": {"type": "string"}, "description": "no-cache bypasses the cache"},
              {"name": "X-Min-Position", "in": "header", "required": false, "schema": {"type": "integer", "minimum": 0},
               "description": "A causal read token: the answer reflects the event log through this position (from POST /api/events, on any node); also ?after= unless the query has a parameter named after. 503 with Retry-After if this node has not caught up in time; 400 beyond the log"}
            ],
            "responses": {
              "200": {
                "description": "The result",
                "headers": {
                  "ETag": {"schema": {"type": "string"}}, "Age": {"schema": {"type": "string"}},
                  "X-Cache": {"schema": {"enum": ["l1", "l2", "computed", "joined"]}}, "Server-Timing": {"schema": {"type": "string"}}
                },
                "content": {
                  "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                  "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "contentMediaType": "application/vnd.apache.arrow.stream"}},
                  "text/csv": {"schema": {"type": "string"}}
                }
              },
              "304": {"description": "Not modified (If-None-Match matched the ETag)"},
              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
              "406": {"$ref": "#/components/responses/Problem"}, "500": {"$ref": "#/components/responses/Problem"},
              "503": {"$ref": "#/components/responses/Problem"}, "504": {"$ref": "#/components/responses/Problem"}
            }
          }
        },
        "/api/events": {
          "post": {
            "summary": "Append events; answers once results are fresh",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Append"}}}},
            "responses": {
              "201": {
                "description": "Committed, projected and invalidated",
                "headers": {"X-Event-Position": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"type": "object", "required": ["positions", "position", "version"],
                  "properties": {"positions": {"type": "array", "items": {"type": "integer"}}, "position": {"type": "integer"}, "version": {"type": "integer"}}}}}
              },
              "400": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"},
              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
              "500": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}
            }
          }
        },
        "/api/analytics/stream": {
          "get": {
            "summary": "Live results over Server-Sent Events",
            "parameters": [
              {"name": "queries", "in": "query", "required": true, "schema": {"type": "string"}, "description": "Comma-separated query ids; parameters as id.name=value"},
              {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}}
            ],
            "responses": {
              "200": {"description": "The stream: events result, invalidated, resync", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
              "404": {"$ref": "#/components/responses/Problem"}
            }
          }
        },
        "/api/cache/invalidate": {
          "post": {
            "summary": "Invalidate results by query, request, dependency expression or everything",
            "security": [{"bearer": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
              "query": {"type": "string"}, "parameters": {"type": "object"}, "expression": {"type": "string"}, "everything": {"type": "boolean"}}}}}},
            "responses": {
              "200": {"description": "Invalidated", "content": {"application/json": {"schema": {"type": "object"}}}},
              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}
            }
          }
        },
        "/api/admin/reload": {
          "post": {
            "summary": "Reload the deployment's config file: checked first, refused whole when invalid (the old one keeps serving)",
            "security": [{"bearer": []}],
            "responses": {
              "200": {"description": "Applied: the queries added, changed and removed, whether projections were rebuilt, what needs a restart",
                      "content": {"application/json": {"schema": {"type": "object", "required": ["reloaded"]}}}},
              "401": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"},
              "404": {"$ref": "#/components/responses/Problem"}, "500": {"$ref": "#/components/responses/Problem"},
              "422": {"description": "Refused; every problem listed", "content": {"application/json": {"schema": {"type": "object",
                      "required": ["error", "problems"], "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}}}}}}
            }
          }
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
          "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "404": {"$ref": "#/components/responses/Problem"}}}},
        "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/ready": {"get": {"summary": "Readiness: the projector has caught up with the log", "responses": {
          "200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object"}}}},
          "503": {"description": "Not ready yet", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
      }
    }
    """#
}
