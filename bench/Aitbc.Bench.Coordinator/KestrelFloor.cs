using System.Net;
using Aitbc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aitbc.Bench.Coordinator;

/// <summary>
/// The physical limit of the submission load on this machine: the same signed requests, over the same number of
/// connections from the same client code, to a bare Kestrel endpoint that reads the body and answers a constant
/// <c>201</c> as long as a job's answer. No signature check, no matching, no database: what is left is the
/// client's signing, HTTP on both sides and Kestrel. The coordinator's rate divided by this is the share of the
/// machine's HTTP ceiling it reaches.
/// </summary>
internal static class KestrelFloor
{
    public static async Task<SubmitFigures> RunAsync(Ed25519Key[] clients, string[] models, int answerBytes, BenchOptions o, TextWriter progress,
        CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        var answer = new byte[Math.Max(2, answerBytes)];
        Array.Fill(answer, (byte)' ');
        (answer[0], answer[^1]) = ((byte)'{', (byte)'}');
        app.MapPost("/v1/jobs", async (HttpContext http) =>
        {
            var buffer = new byte[4096];
            while (await http.Request.Body.ReadAsync(buffer, http.RequestAborted) > 0)
            {
            }
            http.Response.StatusCode = StatusCodes.Status201Created;
            http.Response.ContentType = "application/json";
            http.Response.ContentLength = answer.Length;
            await http.Response.Body.WriteAsync(answer, http.RequestAborted);
        });
        await app.StartAsync(ct);
        progress.WriteLine($"Raw Kestrel: the same signed load against a bare endpoint answering {answer.Length} bytes…");
        try
        {
            return await SubmitLoad.RunAsync(new Uri(app.Urls.First()), clients, models, 16, o, progress, ct, reuseBodies: true);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
        }
    }
}
