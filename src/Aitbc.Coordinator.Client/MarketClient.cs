using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Aitbc.Core;
using Aitbc.Node.Client;

namespace Aitbc.Coordinator.Client;

/// <summary>
/// A client of the coordinator's market API (port 8000). Requests go out through the given <see cref="HttpClient"/>, which
/// signs them (a <see cref="SigningHandler"/>: the coordinator requires every call but the public reads to be signed by
/// the client's or the provider's key). A refusal is thrown as a <see cref="MarketException"/> carrying the problem's code.
/// </summary>
public sealed class MarketClient(HttpClient http)
{
    /// <summary>A client signing with <paramref name="key"/> held in this process.</summary>
    public MarketClient(Uri coordinator, Ed25519Key key, TimeProvider? time = null)
        : this(new HttpClient(new SigningHandler(key, time)) { BaseAddress = coordinator })
    {
    }

    public HttpClient Http => http;

    // Jobs (the client's side).

    /// <summary>Submits a job: the answer names its provider, its firm price and the <c>escrow.lock</c> to pay it with.</summary>
    public Task<Job> SubmitAsync(SubmitJobRequest request, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "/v1/jobs", request, CoordinatorJson.Default.SubmitJobRequest, CoordinatorJson.Default.Job, ct);

    public Task<Job> JobAsync(string jobId, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Get, $"/v1/jobs/{Uri.EscapeDataString(jobId)}", CoordinatorJson.Default.Job, ct);

    /// <summary>The output and receipt of a completed job (its client or provider only).</summary>
    public Task<JobResult> ResultAsync(string jobId, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Get, $"/v1/jobs/{Uri.EscapeDataString(jobId)}/result", CoordinatorJson.Default.JobResult, ct);

    public Task<CancelJobResponse> CancelAsync(string jobId, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"/v1/jobs/{Uri.EscapeDataString(jobId)}/cancel", CoordinatorJson.Default.CancelJobResponse, ct);

    /// <summary>
    /// Polls the job until it is finished (every <paramref name="every"/>, half a second unless given); answers its
    /// result when it completed, else throws a <see cref="MarketException"/> with the job's failure code.
    /// </summary>
    public async Task<JobResult> WaitForResultAsync(string jobId, TimeSpan? every = null, CancellationToken ct = default)
    {
        while (true)
        {
            var job = await JobAsync(jobId, ct);
            if (job.Completed)
            {
                return await ResultAsync(jobId, ct);
            }
            if (job.Finished)
            {
                throw new MarketException(new Problem(409, job.FailureCode ?? job.State, $"job {job.State}", job.FailureReason));
            }
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(500), ct);
        }
    }

    // Jobs (the provider's side).

    public Task<ResultAck> PostResultAsync(string jobId, PostResultRequest result, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"/v1/jobs/{Uri.EscapeDataString(jobId)}/result", result, CoordinatorJson.Default.PostResultRequest, CoordinatorJson.Default.ResultAck, ct);

    public Task<FailJobResponse> FailAsync(string jobId, string reason, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"/v1/jobs/{Uri.EscapeDataString(jobId)}/fail", new FailJobRequest(reason), CoordinatorJson.Default.FailJobRequest,
            CoordinatorJson.Default.FailJobResponse, ct);

    // Providers and the catalog.

    public Task<ProviderView> RegisterAsync(RegisterProviderRequest request, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "/v1/providers/register", request, CoordinatorJson.Default.RegisterProviderRequest, CoordinatorJson.Default.ProviderView, ct);

    public Task<HeartbeatResponse> HeartbeatAsync(CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "/v1/providers/heartbeat", CoordinatorJson.Default.HeartbeatResponse, ct);

    public async Task DeregisterAsync(CancellationToken ct = default)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/providers/deregister", UriKind.Relative)), ct);
        await EnsureAsync(response, ct);
    }

    /// <summary>A provider, its live offers and its record; null when it is not registered.</summary>
    public async Task<ProviderView?> ProviderAsync(Address provider, CancellationToken ct = default)
    {
        try
        {
            return await SendAsync(HttpMethod.Get, $"/v1/providers/{provider}", CoordinatorJson.Default.ProviderView, ct);
        }
        catch (MarketException e) when (e.Problem.Code == "unknown_provider")
        {
            return null;
        }
    }

    public Task<ModelCatalog> ModelsAsync(CancellationToken ct = default) =>
        SendAsync(HttpMethod.Get, "/v1/models", CoordinatorJson.Default.ModelCatalog, ct);

    private async Task<TResponse> SendAsync<TRequest, TResponse>(HttpMethod method, string path, TRequest? body, JsonTypeInfo<TRequest>? bodyType,
        JsonTypeInfo<TResponse> responseType, CancellationToken ct)
        where TRequest : class
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, bodyType!));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using var response = await http.SendAsync(request, ct);
        await EnsureAsync(response, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        return await JsonSerializer.DeserializeAsync(stream, responseType, ct)
            ?? throw new MarketException(new Problem((int)response.StatusCode, "empty_answer", "The coordinator answered no body.", $"{method} {path}"));
    }

    /// <summary>A request without a body (signed over an empty one).</summary>
    private Task<TResponse> SendAsync<TResponse>(HttpMethod method, string path, JsonTypeInfo<TResponse> responseType, CancellationToken ct) =>
        SendAsync<object, TResponse>(method, path, null, null, responseType, ct);

    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new MarketException(await NodeClient.ReadProblemAsync(response, ct), response.StatusCode == HttpStatusCode.ServiceUnavailable || response.StatusCode == HttpStatusCode.TooManyRequests
                ? response.Headers.RetryAfter?.Delta
                : null);
        }
    }
}

/// <summary>The coordinator refused a request: its RFC 9457 problem, with the stable <see cref="Problem.Code"/>.</summary>
public sealed class MarketException(Problem problem, TimeSpan? retryAfter = null) : Exception(problem.ToString())
{
    public Problem Problem { get; } = problem;

    /// <summary>For <c>busy</c> and <c>rate_limited</c>: how long to wait before retrying, when the coordinator said.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
