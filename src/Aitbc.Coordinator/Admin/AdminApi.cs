using System.Security.Cryptography;
using System.Text;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace Aitbc.Coordinator.Admin;

/// <summary>Operator views and actions, behind the admin token (header <c>AITBC-Admin-Token</c>).</summary>
internal static class AdminApi
{
    public const string Header = "AITBC-Admin-Token";

    public static RouteGroupBuilder MapAdminApi(this RouteGroupBuilder v1)
    {
        var admin = v1.MapGroup("/admin").AddEndpointFilter(async (context, next) =>
        {
            var options = context.HttpContext.RequestServices.GetService(typeof(CoordinatorOptions)) as CoordinatorOptions;
            var given = Encoding.UTF8.GetBytes(context.HttpContext.Request.Headers[Header].ToString());
            var expected = Encoding.UTF8.GetBytes(options?.AdminToken ?? "");
            return expected.Length == 0 || !CryptographicOperations.FixedTimeEquals(given, expected)
                ? Problems.Of(MarketErrors.Forbidden, expected.Length == 0 ? "admin is off: no admin token is configured" : $"send the admin token in {Header}")
                : await next(context);
        });
        admin.MapGet("/jobs", Jobs).WithName("AdminJobs").WithSummary("Jobs by state (?state=&limit=).");
        admin.MapPost("/providers/{address}/suspend", Suspend).WithName("AdminSuspendProvider")
            .WithSummary("Take a provider off the market until resumed (its heartbeats and registrations are refused).");
        admin.MapPost("/providers/{address}/resume", Resume).WithName("AdminResumeProvider").WithSummary("Let a suspended provider register again.");
        return v1;
    }

    private static async Task<Results<Ok<List<Job>>, ProblemHttpResult>> Jobs(CoordinatorDb db, string? state, int? limit, CancellationToken ct)
    {
        var n = limit ?? 100;
        if (n is < 1 or > 1000)
        {
            return Problems.Of(MarketErrors.InvalidParameter, "limit is from 1 to 1000");
        }
        var q = db.Jobs.AsNoTracking();
        if (state is not null)
        {
            q = q.Where(j => j.State == state);
        }
        var jobs = await q.OrderByDescending(j => j.CreatedAt).Take(n).ToListAsync(ct);
        return TypedResults.Ok(jobs.Select(JobsApi.ViewOf).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Suspend(string address, CoordinatorDb db, MarketBook book, CancellationToken ct)
    {
        if (await db.Providers.Where(p => p.Address == address).ExecuteUpdateAsync(s => s.SetProperty(p => p.Status, ProviderStatuses.Suspended), ct) == 0)
        {
            return Problems.Of(MarketErrors.UnknownProvider, $"{address} is not registered");
        }
        book.Invalidate();
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Resume(string address, CoordinatorDb db, CancellationToken ct) =>
        await db.Providers.Where(p => p.Address == address && p.Status == ProviderStatuses.Suspended)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Status, ProviderStatuses.Offline), ct) == 1
            ? TypedResults.NoContent()
            : Problems.Of(MarketErrors.UnknownProvider, $"{address} is not a suspended provider");
}
