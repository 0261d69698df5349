/// The JSON Schema (draft 2020-12) of a config file: what `analytics-cache check-config --schema`
/// prints, for editors and CI linters. ``ConfigCheck`` enforces the same rules and more (the SQL,
/// the parameters, the graph).
public enum DeploymentSchema {
    /// The schema document.
    public static let json = #"""
    {
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "$id": "https://github.com/swift-analytics-cache/config.schema.json",
      "title": "analytics-cache config",
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "timeZone": {"type": "string", "description": "DuckDB's time zone (IANA name); default UTC"},
        "datasets": {
          "type": "object",
          "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
          "additionalProperties": {
            "oneOf": [
              {"type": "string", "minLength": 1, "description": "a path or glob; the format from its extension"},
              {"type": "object", "additionalProperties": false, "required": ["path"],
               "properties": {"path": {"type": "string", "minLength": 1},
                              "format": {"enum": ["parquet", "csv", "json", "duckdb"]}}}
            ]
          }
        },
        "events": {
          "type": "object",
          "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"},
          "additionalProperties": {
            "oneOf": [
              {"type": "null"},
              {"type": "object", "additionalProperties": false,
               "properties": {"payload": {"$ref": "#/$defs/fields"}}}
            ]
          }
        },
        "projections": {
          "type": "array",
          "items": {
            "type": "object", "additionalProperties": false, "required": ["name", "tables", "statements"],
            "properties": {
              "name": {"type": "string", "minLength": 1},
              "tables": {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                         "additionalProperties": {"type": "string", "minLength": 1, "description": "column definitions"}},
              "statements": {"type": "object", "additionalProperties": {
                "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]}}
            }
          }
        },
        "queries": {
          "type": "array",
          "items": {
            "type": "object", "additionalProperties": false, "required": ["id", "sql"],
            "properties": {
              "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"},
              "sql": {"type": "string"},
              "scope": {"enum": ["global", "tenant", "user"]},
              "parameters": {"type": "array", "items": {
                "type": "object", "additionalProperties": false, "required": ["name", "type"],
                "properties": {"name": {"type": "string"}, "type": {"enum": ["integer", "double", "text", "boolean", "date"]},
                               "default": {"type": "string"}, "min": {"type": "number"}, "max": {"type": "number"},
                               "oneOf": {"type": "array", "items": {"type": "string"}}, "maxLength": {"type": "integer"}}}},
              "expiry": {"type": "object", "additionalProperties": false, "properties": {
                "ttl": {"type": "number", "exclusiveMinimum": 0},
                "window": {"enum": ["minute", "hour", "day", "week", "month"]}, "timeZone": {"type": "string"},
                "untilParameter": {"type": "string"},
                "adaptive": {"type": "object", "additionalProperties": false, "required": ["factor", "min", "max"],
                             "properties": {"factor": {"type": "number"}, "min": {"type": "number"}, "max": {"type": "number"}}}}},
              "dependencies": {"type": "object", "additionalProperties": false, "properties": {
                "only": {"type": "array", "items": {"type": "string"}}, "adding": {"type": "array", "items": {"type": "string"}}}},
              "eventTime": {"type": "object", "additionalProperties": false, "required": ["from", "to"],
                            "properties": {"from": {"type": "string"}, "to": {"type": "string"}}},
              "maxCachedBytes": {"type": "integer", "minimum": 0},
              "datasets": {"type": "array", "items": {"type": "string"}}
            }
          }
        },
        "server": {
          "type": "object", "additionalProperties": false,
          "properties": {
            "host": {"type": "string", "minLength": 1}, "port": {"type": "integer", "minimum": 0, "maximum": 65535},
            "adminToken": {"type": "string"}, "bypassRequiresAdmin": {"type": "boolean"},
            "maxConcurrentRequests": {"type": "integer", "minimum": 1}, "maxEventBodyBytes": {"type": "integer", "minimum": 64},
            "maxParameters": {"type": "integer", "minimum": 1}, "streamBuffer": {"type": "integer", "minimum": 1},
            "heartbeatSeconds": {"type": "number", "minimum": 0.1, "maximum": 86400},
            "idleTimeoutSeconds": {"type": "number", "minimum": 1, "maximum": 86400}
          }
        },
        "tenancy": {
          "type": "object", "additionalProperties": false,
          "properties": {
            "header": {"type": "string", "minLength": 1},
            "jwt": {"type": "object", "additionalProperties": false, "required": ["claim"],
                    "properties": {"claim": {"type": "string", "minLength": 1}, "hs256Secret": {"type": "string", "minLength": 32},
                                   "hs256SecretFile": {"type": "string"}, "es256PublicKeyFile": {"type": "string"}}}
          }
        },
        "cache": {
          "type": "object", "additionalProperties": false,
          "properties": {"memoryMB": {"type": "integer", "minimum": 0}, "diskMB": {"type": "integer", "minimum": 1},
                         "diskPath": {"type": "string", "minLength": 1}}
        }
      },
      "$defs": {
        "fieldType": {"type": "string",
                      "pattern": "^(string|integer|number|boolean|timestamp|date|object|array)\\??$"},
        "fields": {
          "type": "object",
          "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
          "additionalProperties": {
            "oneOf": [
              {"$ref": "#/$defs/fieldType"},
              {"type": "object", "additionalProperties": false, "required": ["type"],
               "properties": {"type": {"enum": ["string", "integer", "number", "boolean", "timestamp", "date", "object", "array"]},
                              "required": {"type": "boolean"}, "fields": {"$ref": "#/$defs/fields"}}}
            ]
          }
        }
      }
    }
    """#
}
