using ConnectionGrid.Operations;

namespace ConnectionGrid.Tests.Unit;

public sealed class OperationKeysTests
{
    [Fact]
    public void An_id_names_its_job_its_tenant_and_its_run()
    {
        var run = OperationKeys.NewRun();
        var id = OperationKeys.IdOf(OperationKeys.IntegrationDelete("acme", "wiki.v2"), run);
        Assert.Equal($"integration_delete.acme.wiki.v2.{run}", id);
        Assert.True(OperationKeys.TryParseId(id, out var operation));
        Assert.Equal(new OperationRef(OperationKind.IntegrationDelete, "integration_delete:acme/wiki.v2", "acme", run), operation);

        Assert.True(OperationKeys.TryParseId(OperationKeys.IdOf(OperationKeys.TenantDelete("t_1-x"), run), out operation));
        Assert.Equal(new OperationRef(OperationKind.TenantDelete, "tenant_delete:t_1-x", "t_1-x", run), operation);

        Assert.True(OperationKeys.TryParseId(OperationKeys.IdOf(OperationKeys.Reencrypt, run), out operation));
        Assert.Equal(new OperationRef(OperationKind.Reencrypt, OperationKeys.Reencrypt, null, run), operation);
        Assert.NotEqual(run, OperationKeys.NewRun());
    }

    [Theory]
    [InlineData("")]
    [InlineData("tenant_delete.acme")]
    [InlineData("tenant_delete.acme.0123456789ABCDEF")]
    [InlineData("tenant_delete.acme.0123456789abcde")]
    [InlineData("tenant_delete.Acme.0123456789abcdef")]
    [InlineData("tenant_delete.a.b.0123456789abcdef")]
    [InlineData("integration_delete.acme.0123456789abcdef")]
    [InlineData("integration_delete.acme..0123456789abcdef")]
    [InlineData("integration_delete.acme.a/b.0123456789abcdef")]
    [InlineData("reencrypt.other.0123456789abcdef")]
    [InlineData("drop_table.acme.0123456789abcdef")]
    [InlineData("tenant_delete..0123456789abcdef")]
    public void Anything_else_is_no_id(string id) => Assert.False(OperationKeys.TryParseId(id, out _));
}
