using System.Buffers.Text;
using CrossAttention.Api.Sessions;
using CrossAttention.Api.Tests.Support;

namespace CrossAttention.Api.Tests.Access;

public sealed class SessionIdRuleTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public void Base64UrlOf128RandomBitsPasses()
    {
        var random = new Random(20261202);
        var bytes = new byte[16];
        for (int i = 0; i < 10_000; i++)
        {
            random.NextBytes(bytes);
            string id = Base64Url.EncodeToString(bytes);
            Assert.True(SessionIds.IsWellFormed(id), id);
        }
        for (int i = 0; i < 10_000; i++) Assert.True(SessionIds.IsWellFormed(SessionIds.New()));
    }

    [Theory]
    [InlineData("aaaaaaaaaaaaaaaa")]           // one character
    [InlineData("abababababababab")]           // two characters
    [InlineData("abcdabcdabcdabcd")]           // four characters
    [InlineData("0123456789abcdef")]           // counting
    [InlineData("Zk3x_acegikmoq9W")]           // a stride: a, c, e, … (7 or more in a row)
    [InlineData("Xq7Lp2vN-0000000")]           // a run of 7
    [InlineData("client-chosen_id-0123456789")] // a readable name with a counter in it
    [InlineData("short")]
    [InlineData("has.a.dot.in.it.0123456")]
    public void RegularOrMalformedIdsFail(string id) => Assert.False(SessionIds.IsWellFormed(id));

    [Theory]
    [InlineData("Xq7Lp2vN-000000")] // a run of 6 is allowed (a random id has one once in ~10⁶)
    [InlineData("9b2f4e1c-7a3d-4c8e-b6f0-2d5a8e9c1f47")] // a UUID
    public void RandomLookingIdsPass(string id) => Assert.True(SessionIds.IsWellFormed(id + "Kz"));

    [Theory]
    [InlineData("aaaaaaaaaaaaaaaa")]
    [InlineData("abababababababab")]
    [InlineData("0123456789abcdef")]
    public async Task PutRefusesThemSayingTheRule(string id)
    {
        var response = await factory.CreateClient().PutAsync($"/sessions/{id}", Json.Body(new { model = "demo", source = Json.Rows(1, 64, 1) }));
        await ProblemAssert.IsValidationErrorAsync(response, "id", "look random");
    }
}
