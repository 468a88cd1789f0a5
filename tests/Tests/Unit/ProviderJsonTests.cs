using System.Text;
using ConnectionGrid.OAuth;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The tolerant reader of providers' bodies: never throws, and what it returns serializes again.</summary>
public sealed class ProviderJsonTests
{
    private static ProviderDocument Read(string json) => ProviderJson.Read(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Duplicate_keys_the_last_one_wins()
    {
        var document = Read("""{"a":"first","b":1,"a":"last"}""");
        Assert.True(document.Complete);
        Assert.Equal("""{"a":"last","b":1}""", document.Object!.ToJsonString());
    }

    [Fact]
    public void Members_that_are_not_valid_unicode_are_dropped()
    {
        byte[] invalidUtf8 = [.. "{\"bad\":\""u8, 0xC3, 0x28, 0xFF, .. "\",\"ok\":\"yes\"}"u8];
        Assert.Equal("""{"ok":"yes"}""", ProviderJson.Read(invalidUtf8).Object!.ToJsonString());

        var surrogates = Read("""{"a":"\ud800","\udc00":"b","list":["\udfff",1],"ok":"\ud83d\ude00"}""");
        Assert.True(surrogates.Complete);
        Assert.Equal("""{"list":[1],"ok":"\uD83D\uDE00"}""", surrogates.Object!.ToJsonString());
    }

    [Fact]
    public void Members_nested_deeper_than_the_limit_are_dropped()
    {
        var deep = new string('[', ProviderJson.MaxDepth) + new string(']', ProviderJson.MaxDepth);
        var kept = new string('[', ProviderJson.MaxDepth - 1) + new string(']', ProviderJson.MaxDepth - 1);
        var document = Read($$"""{"deep":{{deep}},"kept":{{kept}},"ok":true}""");
        Assert.True(document.Complete);
        Assert.Equal($$"""{"kept":{{kept}},"ok":true}""", document.Object!.ToJsonString());
    }

    [Theory]
    [InlineData("""{"a":"x","b":"y""", """{"a":"x"}""")]
    [InlineData("""{"a":"x","b":{"c":1""", """{"a":"x"}""")]
    [InlineData("""{"a":"x"} trailing""", """{"a":"x"}""")]
    [InlineData("""{"a":"x",}""", """{"a":"x"}""")]
    public void A_body_that_breaks_off_keeps_what_was_read_whole(string json, string kept)
    {
        var document = Read(json);
        Assert.False(document.Complete);
        Assert.Equal(kept, document.Object!.ToJsonString());
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("\"text\"")]
    [InlineData("<html></html>")]
    [InlineData("")]
    public void A_body_that_is_not_an_object_has_none(string body)
    {
        Assert.Null(Read(body).Object);
    }

    [Fact]
    public void Numbers_are_kept_as_written()
    {
        Assert.Equal("""{"n":1e400,"m":-0.5}""", Read("""{"n":1e400,"m":-0.5}""").Object!.ToJsonString());
    }
}
