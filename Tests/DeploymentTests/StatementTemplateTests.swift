import Deployment
import Testing

@Suite struct StatementTemplateTests {
    @Test func namedParametersBecomePlaceholdersInOrder() throws {
        let template = try StatementTemplate("INSERT INTO views VALUES ($payload.path, $aggregate_id, $payload.user.id, $occurred_at)")
        #expect(template.sql == "INSERT INTO views VALUES (?, ?, ?, ?)")
        #expect(template.parameters == [.payload(["path"]), .aggregateID, .payload(["user", "id"]), .occurredAt])
        #expect(template.writtenTable == "views")
    }

    @Test func dollarsInsideLiteralsCommentsAndDollarQuotesAreNotParameters() throws {
        let text = "UPDATE t SET a = '$payload.x', b = \"$c\" /* $payload.y */ , c = $$ $payload.z $$ -- $position\nWHERE k = $aggregate_id"
        let template = try StatementTemplate(text)
        #expect(template.parameters == [.aggregateID])
        #expect(template.sql.hasSuffix("WHERE k = ?"))
        #expect(template.sql.contains("'$payload.x'") && template.sql.contains("$$ $payload.z $$"))
        #expect(template.writtenTable == "t")
    }

    @Test func unknownAndPositionalParametersAreRefusedByName() {
        #expect(throws: StatementTemplateError.self) { try StatementTemplate("INSERT INTO t VALUES ($1)") }
        do {
            _ = try StatementTemplate("INSERT INTO t VALUES ($payload)")
            Issue.record("a bare $payload was accepted")
        } catch { #expect("\(error)".contains("$payload")) }
        #expect(throws: StatementTemplateError.self) { try StatementTemplate("INSERT INTO t VALUES ('open") }
    }

    @Test func theWrittenTableIsReadFromInsertUpdateAndDelete() throws {
        #expect(try StatementTemplate("insert or replace into Main.Users (id) values ($aggregate_id)").writtenTable == "users")
        #expect(try StatementTemplate("DELETE FROM \"Sessions\" WHERE id = $aggregate_id").writtenTable == "sessions")
        #expect(try StatementTemplate("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x").writtenTable == nil)
    }

    @Test func nestedCommentsAndEscapeStringsHideTheirDollarsAsDuckDBReadsThem() throws {
        let nested = try StatementTemplate("DELETE FROM t /* outer /* inner */ $payload.a */ WHERE k = $aggregate_id")
        #expect(nested.parameters == [.aggregateID])
        let escaped = try StatementTemplate(#"UPDATE t SET note = E'it\'s $payload.a' WHERE k = $position"#)
        #expect(escaped.parameters == [.position])
        #expect(throws: StatementTemplateError.self) { try StatementTemplate("DELETE FROM t /* /* */ WHERE k = $position") }
    }

    @Test func schemaQualifiedNamesAreFoundButAliasedColumnsAreNot() throws {
        #expect(try StatementTemplate("INSERT INTO main.t SELECT p.x FROM plans p WHERE p.k = $position").qualifiedNames == ["main.t"])
        #expect(try StatementTemplate("UPDATE t SET n = s.n FROM db.main.s WHERE t.k = s.k AND t.k = $position").qualifiedNames == ["db.main.s"])
        #expect(try StatementTemplate("UPDATE t SET a = 'main.t', b = 1.5 /* main.x */ WHERE t.k = $position").qualifiedNames.isEmpty)
    }
}
