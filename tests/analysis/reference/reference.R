# Reference values for tests/analysis/test_analysis_r_reference.py (R 4.2, Debian packages
# r-cran-survival, r-cran-geepack, r-cran-lme4). Rows: participants.csv and visits.csv
# beside this file, made by make_data.py (the project's demo generator). Run from this
# folder: Rscript reference.R
suppressMessages({library(survival); library(geepack); library(lme4)})
options(digits = 12)
p <- read.csv("participants.csv")
v <- read.csv("visits.csv")

cat("== Cox, cluster = centre, Efron ties\n")
cx <- coxph(Surv(ltfu_months, ltfu_event) ~ intervention, data = p, cluster = centre_code,
            ties = "efron")
print(c(coef = unname(coef(cx)), naive_se = sqrt(cx$naive.var[1, 1]),
        robust_se = sqrt(vcov(cx)[1, 1])))
z <- cox.zph(cx)
print(z$table)
cat("== Cox, strata = centre\n")
cs <- coxph(Surv(ltfu_months, ltfu_event) ~ intervention + strata(centre_code), data = p,
            ties = "efron")
print(c(coef = unname(coef(cs)), se = sqrt(vcov(cs)[1, 1])))
print(cox.zph(cs)$table)
cat("== Cox, two covariates (intervention, age/10), cluster = centre\n")
p$age10 <- p$age_at_inclusion / 10
c2 <- coxph(Surv(ltfu_months, ltfu_event) ~ intervention + age10, data = p,
            cluster = centre_code)
print(cbind(coef = coef(c2), robust_se = sqrt(diag(vcov(c2)))))
print(cox.zph(c2)$table)

# Mancl-DeRouen bias-reduced sandwich for an independence GEE (logit), by hand.
md_se <- function(fit, X, y, id) {
  mu <- as.vector(fitted(fit)); w <- mu * (1 - mu)
  bread <- solve(crossprod(X * sqrt(w)))
  meat <- 0
  for (g in unique(id)) {
    i <- id == g
    D <- X[i, , drop = FALSE] * w[i]
    H <- D %*% bread %*% t(X[i, , drop = FALSE])   # D_i B^-1 D_i' V_i^-1 (V = diag(w))
    r <- solve(diag(sum(i)) - H, y[i] - mu[i])
    s <- t(X[i, , drop = FALSE]) %*% r
    meat <- meat + s %*% t(s)
  }
  sqrt(diag(bread %*% meat %*% bread))
}

cat("== GEE logit clustered on centre, independence (ITT design)\n")
v$intervention <- as.integer(v$group_itt == "intervention")
v$m6 <- as.integer(v$timepoint == "M6"); v$m12 <- as.integer(v$timepoint == "M12")
for (y in c("any_risk_practice", "any_complication")) {
  d <- v[!is.na(v[[y]]), ]
  d <- d[order(d$centre_code, d$participant_id, d$month), ]
  d$y <- d[[y]]
  g <- geeglm(y ~ intervention * (m6 + m12) + age_at_inclusion, id = factor(d$centre_code),
              data = d, family = binomial, corstr = "independence")
  X <- model.matrix(g)
  cat(y, "\n")
  print(cbind(coef = coef(g), robust_se = sqrt(diag(vcov(g))),
              md_se = md_se(g, X, d$y, d$centre_code)))
}

cat("== glmer, random intercepts per participant and centre (Laplace), age scaled\n")
for (y in c("any_risk_practice", "any_complication")) {
  d <- v[!is.na(v[[y]]), ]
  d$y <- d[[y]]
  d$age_s <- as.numeric(scale(d$age_at_inclusion))
  f <- glmer(y ~ intervention * (m6 + m12) + age_s + (1 | participant_id) + (1 | centre_code),
             data = d, family = binomial, control = glmerControl(optimizer = "bobyqa"))
  cat(y, "\n")
  print(summary(f)$coefficients[, 1:2])
  print(as.data.frame(VarCorr(f))[, c("grp", "sdcor")])
  print(logLik(f))
}

cat("== discrete-time loss to follow-up per visit (logit, centre-clustered)\n")
rows <- list()
for (k in 1:2) {
  lo <- c(0, 224)[k]; hi <- c(224, 407)[k]
  at <- p$ltfu_days > lo & (p$ltfu_days >= hi | (p$ltfu_event == 1 & p$ltfu_days <= hi))
  at <- at | (k == 1 & p$ltfu_event == 1 & p$ltfu_days == 0)
  s <- p[at, ]
  rows[[k]] <- data.frame(centre_code = s$centre_code, participant_id = s$participant_id,
                          intervention = s$intervention, m12 = as.integer(k == 2),
                          lost = as.integer(s$ltfu_event == 1 & s$ltfu_days <= hi))
}
dt <- do.call(rbind, rows)
dt <- dt[order(dt$centre_code, dt$participant_id, dt$m12), ]
print(table(dt$m12, dt$lost))
gd <- geeglm(lost ~ m12 + intervention, id = factor(dt$centre_code), data = dt,
             family = binomial, corstr = "independence")
print(cbind(coef = coef(gd), robust_se = sqrt(diag(vcov(gd))),
            md_se = md_se(gd, model.matrix(gd), dt$lost, dt$centre_code)))
